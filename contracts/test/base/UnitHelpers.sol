// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {OMLFixture} from "./OMLFixture.sol";
import {Terms} from "../../src/lib/OMLTypes.sol";

/// @dev Cheatcodes the unit tests need beyond those Vm.sol declares. A separate interface on the
/// same cheatcode address, so that Vm.sol stays untouched by these suites.
interface VmExtra {
    function expectEmit(address emitter) external;
    function assertEq(string calldata, string calldata) external pure;
    function assertEq(bytes calldata, bytes calldata) external pure;
    function assertNotEq(bytes32, bytes32) external pure;
}

/// @dev A contract account that forwards calls and can refuse ETH (to reach the TransferFailed paths).
contract Actor {
    bool public rejectPayments;

    function setReject(bool reject) external {
        rejectPayments = reject;
    }

    function exec(address target, uint256 value, bytes calldata data) external payable returns (bytes memory ret) {
        bool ok;
        (ok, ret) = target.call{value: value}(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
    }

    receive() external payable {
        require(!rejectPayments, "Actor: rejected");
    }
}

/// @dev Stands in for the ClaimManager: answers `openClaims` and refuses every ETH transfer.
contract ClaimManagerStub {
    uint256 public open;

    function setOpen(uint256 n) external {
        open = n;
    }

    function openClaims(bool, uint256) external view returns (uint256) {
        return open;
    }
}

/// @dev The fixture plus small helpers shared by the unit suites.
abstract contract UnitHelpers is OMLFixture {
    VmExtra internal constant vmx = VmExtra(address(uint160(uint256(keccak256("hevm cheat code")))));
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    function domainOf(address verifyingContract) internal view returns (bytes32) {
        return
            keccak256(abi.encode(DOMAIN_TYPEHASH, keccak256("OML"), keccak256("1"), block.chainid, verifyingContract));
    }

    function copyTerms() internal view returns (Terms memory t) {
        t = terms;
    }

    function oneOwner(address o) internal pure returns (address[] memory owners_, uint256[] memory shares_) {
        owners_ = new address[](1);
        owners_[0] = o;
        shares_ = new uint256[](1);
        shares_[0] = 1;
    }

    /// @dev A base model registered by `by` with a single owner `by` and the fixture's terms.
    function registerBase(address by, bytes32 lineageRoot) internal returns (uint256 id) {
        (address[] memory o, uint256[] memory s) = oneOwner(by);
        vm.prank(by);
        id = registry.registerModel(o, s, signer, terms, lineageRoot, keccak256("w"));
    }

    /// @dev A model derived from `parentId`, registered by `by`, staking the parent's registration stake.
    function registerDerived(address by, uint256 parentId) internal returns (uint256 id) {
        (address[] memory o, uint256[] memory s) = oneOwner(by);
        (, Terms memory pt,) = registry.currentTerms(parentId);
        uint256 stake = pt.registrationStake;
        vm.deal(by, by.balance + stake);
        vm.prank(by);
        id = registry.registerDerivedModel{value: stake}(parentId, o, s, signer, terms, bytes32(0), keccak256("d"));
    }

    /// @dev Same signature with s' = n - s and the parity flipped: valid for ecrecover, rejected by EIP-2.
    function malleate(bytes memory sig) internal pure returns (bytes memory) {
        (bytes32 r, bytes32 s, uint8 v) = split(sig);
        return abi.encodePacked(r, bytes32(SECP256K1_N - uint256(s)), v == 27 ? uint8(28) : uint8(27));
    }

    function split(bytes memory sig) internal pure returns (bytes32 r, bytes32 s, uint8 v) {
        assembly ("memory-safe") {
            r := mload(add(sig, 0x20))
            s := mload(add(sig, 0x40))
            v := byte(0, mload(add(sig, 0x60)))
        }
    }
}
