"""`ape run ape_deploy`: ape looks for scripts only in ./scripts, the code lives in deploy/."""
from deploy.ape_deploy import main

__all__ = ["main"]
