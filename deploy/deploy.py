"""Deploy the OML contracts with plain Python: `python -m deploy.deploy [--rpc-url URL] [--out FILE]`.

The same as `oml deploy`, for environments that script Python rather than the CLI; settings
come from the same environment variables (OML_RPC_URL, OML_PRIVATE_KEY, OML_DEPLOYMENT).
"""
from __future__ import annotations

import argparse
import os
import sys

from oml_core.chain.anvil import DEV_PRIVATE_KEY
from oml_core.chain.client import connect
from oml_core.chain.compiler import compile_contracts
from oml_core.chain.deployment import (
    ClaimParams,
    Deployment,
    RegistryParams,
    VerifierParams,
    default_deployment_path,
    deploy,
)
from oml_core.chain.errors import ChainError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults, claim_defaults, registry_defaults = VerifierParams(), ClaimParams(), RegistryParams()
    parser = argparse.ArgumentParser(prog="python -m deploy.deploy", description=__doc__.splitlines()[0])
    parser.add_argument("--rpc-url", default=os.environ.get("OML_RPC_URL", "http://127.0.0.1:8545"))
    parser.add_argument("--private-key", default=os.environ.get("OML_PRIVATE_KEY", DEV_PRIVATE_KEY))
    parser.add_argument("--out", default=str(default_deployment_path()))
    parser.add_argument("--min-stake", type=int, default=defaults.min_stake, help="wei")
    parser.add_argument("--unbonding-period", type=int, default=defaults.unbonding_period, help="seconds")
    parser.add_argument("--penalty-bps", type=int, default=defaults.penalty_bps)
    parser.add_argument("--activation-delay", type=int, default=defaults.activation_delay, help="seconds")
    parser.add_argument("--clock-skew", type=int, default=claim_defaults.clock_skew, help="seconds")
    parser.add_argument("--min-retirement-unbonding", type=int,
                        default=registry_defaults.min_retirement_unbonding, help="seconds")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> Deployment:
    verifier = VerifierParams(args.min_stake, args.unbonding_period, args.penalty_bps, args.activation_delay)
    deployment = deploy(connect(args.rpc_url), args.private_key, verifier, compile_contracts(), args.rpc_url,
                        ClaimParams(clock_skew=args.clock_skew),
                        RegistryParams(min_retirement_unbonding=args.min_retirement_unbonding))
    deployment.save(args.out)
    return deployment


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        deployment = run(args)
    except ChainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name, address in deployment.addresses.items():
        print(f"{name:17} {address}")
    print(f"chain {deployment.chain_id}, block {deployment.block_number}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
