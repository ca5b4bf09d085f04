"""Errors of the chain tooling. Each carries a message fit to print as one line to a user."""


class ChainError(Exception):
    """Base of every error the chain tooling raises on purpose (the CLI prints these as one line)."""


class ToolchainError(ChainError):
    """A native tool (anvil, forge, node, the solc shim) is missing or unusable."""


class CompileError(ChainError):
    """solc rejected the contracts."""


class RpcUnavailable(ChainError):
    """No JSON-RPC node answers at the given URL."""


class TransactionFailed(ChainError):
    """A transaction (or its gas estimate) reverted; names the decoded custom error when known."""

    def __init__(self, message: str, error_name: str | None = None, error_args: dict | None = None,
                 contract: str | None = None, data: str | None = None):
        super().__init__(message)
        self.error_name = error_name
        self.error_args = error_args or {}
        self.contract = contract
        self.data = data
