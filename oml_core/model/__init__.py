"""Loading the reference model and small stand-ins for tests."""
from oml_core.model.loading import load_model, model_cache_dir, prepare_reference_model, tiny_model

__all__ = ["load_model", "model_cache_dir", "prepare_reference_model", "tiny_model"]
