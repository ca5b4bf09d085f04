"""Chain tooling: the pinned toolchain (toolchain), a local node (anvil), compiling (compiler),
deploying (deployment) and a web3 client with decoded reverts (client).

Only the errors are imported here, so `import oml_core.chain` does not pull in web3.
"""
from oml_core.chain.errors import (
    ChainError,
    CompileError,
    RpcUnavailable,
    ToolchainError,
    TransactionFailed,
)

__all__ = ["ChainError", "CompileError", "RpcUnavailable", "ToolchainError", "TransactionFailed"]
