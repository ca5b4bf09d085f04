// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {OMLFixture} from "./OMLFixture.sol";
import {ClaimManager} from "../../src/ClaimManager.sol";
import {Terms, ClaimKind} from "../../src/lib/OMLTypes.sol";

/// @dev Cheatcodes the claim suites need beyond Vm.sol: a separate interface on the same address,
/// so that two suites adding the same declaration to Vm.sol cannot collide.
interface VmClaims {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    function expectEmit(address emitter) external;
    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory);
}

/// @dev Sorted-pair Merkle trees of any size, built as PROTOCOL.md says (leaves sorted, an odd
/// node carried up unchanged).
library TestMerkle {
    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encodePacked(a, b)) : keccak256(abi.encodePacked(b, a));
    }

    function sorted(bytes32[] memory xs) internal pure returns (bytes32[] memory s) {
        s = new bytes32[](xs.length);
        for (uint256 i; i < xs.length; ++i) {
            bytes32 x = xs[i];
            uint256 j = i;
            while (j > 0 && s[j - 1] > x) {
                s[j] = s[j - 1];
                --j;
            }
            s[j] = x;
        }
    }

    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        bytes32[] memory level = sorted(leaves);
        uint256 n = level.length;
        while (n > 1) {
            uint256 m = (n + 1) / 2;
            for (uint256 i; i < m; ++i) {
                level[i] = 2 * i + 1 < n ? hashPair(level[2 * i], level[2 * i + 1]) : level[2 * i];
            }
            n = m;
        }
        return level[0];
    }

    function proof(bytes32[] memory leaves, bytes32 leaf) internal pure returns (bytes32[] memory p) {
        bytes32[] memory level = sorted(leaves);
        uint256 n = level.length;
        uint256 idx = type(uint256).max;
        for (uint256 i; i < n; ++i) {
            if (level[i] == leaf) idx = i;
        }
        require(idx != type(uint256).max, "TestMerkle: not a leaf");
        bytes32[] memory tmp = new bytes32[](256);
        uint256 len;
        while (n > 1) {
            uint256 sib = idx ^ 1;
            if (sib < n) tmp[len++] = level[sib];
            uint256 m = (n + 1) / 2;
            for (uint256 i; i < m; ++i) {
                level[i] = 2 * i + 1 < n ? hashPair(level[2 * i], level[2 * i + 1]) : level[2 * i];
            }
            n = m;
            idx >>= 1;
        }
        p = new bytes32[](len);
        for (uint256 i; i < len; ++i) {
            p[i] = tmp[i];
        }
    }
}

/// @dev A contract account (claimant or host, driven with vm.prank) that refuses ETH until told
/// otherwise: reaches PaymentSender's deferred path and its TransferFailed.
contract EthRefuser {
    bool public accept;

    function setAccept(bool a) external {
        accept = a;
    }

    receive() external payable {
        require(accept, "EthRefuser: rejected");
    }
}

/// @dev Accepts ETH but burns more than PaymentSender's 30 000 gas allowance doing so.
contract GasHungryReceiver {
    mapping(uint256 => uint256) private _sink;
    uint256 private _n;

    receive() external payable {
        // Three fresh slots: over 60 000 gas.
        for (uint256 i; i < 3; ++i) {
            _sink[++_n] = 1;
        }
    }
}

/// @dev The fixture plus generic claim builders: any kind, any subject, any set of attesters.
abstract contract ClaimHelpers is OMLFixture {
    VmClaims internal constant vmc = VmClaims(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// @dev Sorts private keys by the address they control.
    function sortByAddress(uint256[] memory pks) internal pure returns (uint256[] memory s) {
        s = new uint256[](pks.length);
        for (uint256 i; i < pks.length; ++i) {
            s[i] = pks[i];
        }
        for (uint256 i; i < s.length; ++i) {
            for (uint256 j = i + 1; j < s.length; ++j) {
                if (vm.addr(s[j]) < vm.addr(s[i])) (s[i], s[j]) = (s[j], s[i]);
            }
        }
    }

    function addressesOf(uint256[] memory pks) internal pure returns (address[] memory a) {
        a = new address[](pks.length);
        for (uint256 i; i < pks.length; ++i) {
            a[i] = vm.addr(pks[i]);
        }
    }

    /// @dev The first `count` fixture verifiers in address order.
    function firstVerifiers(uint256 count) internal view returns (uint256[] memory pks) {
        uint256[] memory all = sortedVerifierPks();
        pks = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            pks[i] = all[i];
        }
    }

    /// @dev The address a 65-byte r‖s‖v signature recovers to over `digest` (raw ecrecover, so a
    /// test can see who a signature the contract rejects was really made by).
    function recoverOf(bytes32 digest, bytes memory sig) internal pure returns (address) {
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly ("memory-safe") {
            r := mload(add(sig, 0x20))
            s := mload(add(sig, 0x40))
            v := byte(0, mload(add(sig, 0x60)))
        }
        return ecrecover(digest, v, r, s);
    }

    /// @dev The leaf a claim reveals.
    function leafOfInput(ClaimManager.ClaimInput memory c) internal pure returns (bytes32) {
        return c.kind == ClaimKind.ALIGNMENT_BREACH ? c.evidenceHash : leafOf(c.queryHash, c.responseHash, c.salt);
    }

    /// @dev The claim that holds the offence `c` claims (0 if none).
    function claimOfInput(ClaimManager.ClaimInput memory c) internal view returns (uint256) {
        bytes32 matter = c.kind == ClaimKind.ALIGNMENT_BREACH ? c.evidenceHash : c.queryHash;
        return claims.claimOf(claims.claimKey(c.kind == ClaimKind.LINEAGE, c.subjectId, c.familyId, matter));
    }

    /// @dev Signatures of `pks` (in the order given) over the attestation of `c` opened by `claimant`.
    function signAttestation(ClaimManager.ClaimInput memory c, uint256[] memory pks)
        internal
        view
        returns (bytes[] memory sigs)
    {
        return signAttestationFor(c, pks, claimant);
    }

    /// @dev Signatures of `pks` (in the order given) over the attestation of `c` opened by `by`.
    function signAttestationFor(ClaimManager.ClaimInput memory c, uint256[] memory pks, address by)
        internal
        view
        returns (bytes[] memory sigs)
    {
        bytes32 digest = claims.attestationDigest(c.subjectId, c.familyId, c.kind, leafOfInput(c), c.evidenceHash, c.servedAt, by);
        sigs = new bytes[](pks.length);
        for (uint256 i; i < pks.length; ++i) {
            sigs[i] = sign(pks[i], digest);
        }
    }

    /// @dev The record openClaim will store for `c` opened now by `by` with `attesters`: an
    /// independent oracle computed from the stake holders' views.
    function recordFor(ClaimManager.ClaimInput memory c, address by, address[] memory attesters)
        internal
        view
        returns (ClaimManager.ClaimRecord memory r)
    {
        r.kind = c.kind;
        r.subjectId = c.subjectId;
        r.claimant = by;
        uint256 stake;
        uint32 version;
        if (c.kind == ClaimKind.LINEAGE) {
            (stake,, version, r.accused) = registry.lineageClaimInfo(c.subjectId, c.familyId);
            r.modelId = c.familyId;
        } else {
            (r.modelId, version, stake,, r.accused,,) = licenses.claimInfo(c.subjectId);
            r.notBefore = licenseStart(c.subjectId);
        }
        if (c.kind != ClaimKind.ALIGNMENT_BREACH) r.queryHash = c.queryHash;
        r.leaf = leafOfInput(c);
        r.servedAt = c.servedAt;
        Terms memory t = registry.terms(r.modelId, version);
        r.bond = t.claimBond;
        r.slashAmount = stake * t.slashBps / 10_000;
        uint256 pending = claims.pendingSlash(c.kind == ClaimKind.LINEAGE, c.subjectId);
        uint256 free = stake > pending ? stake - pending : 0;
        if (r.slashAmount > free) r.slashAmount = free;
        r.reward = r.slashAmount * t.claimantRewardBps / 10_000;
        r.deadline = uint64(block.timestamp + t.challengeWindow);
        r.attestersHash = keccak256(abi.encodePacked(attesters));
    }

    /// @dev Opens `c` as `by` with the attestations of `pks` (sorted here), paying the right bond;
    /// first waits out the clock skew after the answer if it has not passed yet.
    function openAs(address by, ClaimManager.ClaimInput memory c, uint256[] memory pks)
        internal
        returns (uint256 id, ClaimManager.ClaimRecord memory r)
    {
        if (block.timestamp < uint256(c.servedAt) + CLOCK_SKEW) vm.warp(uint256(c.servedAt) + CLOCK_SKEW);
        uint256[] memory s = sortByAddress(pks);
        r = recordFor(c, by, addressesOf(s));
        bytes[] memory sigs = signAttestationFor(c, s, by);
        vm.deal(by, by.balance + r.bond);
        vm.prank(by);
        id = claims.openClaim{value: r.bond}(c, sigs);
    }

    /// @dev A license of `who` on `modelId_`'s current terms, with a fingerprint commitment over
    /// `leafCount` leaves derived from `tag`; returns the claim inputs of each leaf.
    function licenseWithFingerprints(address who, uint256 stake, uint256 leafCount, bytes32 tag)
        internal
        returns (uint256 id, ClaimManager.ClaimInput[] memory inputs)
    {
        id = acquire(who, stake);
        bytes32[] memory ls = new bytes32[](leafCount);
        inputs = new ClaimManager.ClaimInput[](leafCount);
        for (uint256 i; i < leafCount; ++i) {
            inputs[i].kind = ClaimKind.UNPERMITTED_USE;
            inputs[i].subjectId = id;
            inputs[i].queryHash = keccak256(abi.encode(tag, "q", i));
            inputs[i].responseHash = keccak256(abi.encode(tag, "r", i));
            inputs[i].salt = keccak256(abi.encode(tag, "s", i));
            inputs[i].evidenceHash = keccak256(abi.encode(tag, "e", i));
            ls[i] = leafOf(inputs[i].queryHash, inputs[i].responseHash, inputs[i].salt);
        }
        for (uint256 i; i < leafCount; ++i) {
            inputs[i].proof = TestMerkle.proof(ls, ls[i]);
            inputs[i] = answeredAt(inputs[i], licenseStart(id));
        }
        vm.prank(admin);
        licenses.setFingerprintCommitment(id, TestMerkle.root(ls), keccak256(abi.encode(tag, "w")));
    }

    function copyRecord(ClaimManager.ClaimRecord memory r) internal pure returns (ClaimManager.ClaimRecord memory c) {
        c = abi.decode(abi.encode(r), (ClaimManager.ClaimRecord));
    }

    /// @dev `r` with field `field % 14` changed to something derived from `salt` (never equal).
    function tamper(ClaimManager.ClaimRecord memory r, uint256 field, uint256 salt)
        internal
        pure
        returns (ClaimManager.ClaimRecord memory t)
    {
        t = copyRecord(r);
        field %= 14;
        uint256 x = uint256(keccak256(abi.encode(salt, field)));
        if (field == 0) t.kind = ClaimKind((uint8(r.kind) + 1 + salt % 4) % 5);
        else if (field == 1) t.subjectId = r.subjectId ^ (1 + salt % 1_000);
        else if (field == 2) t.modelId = r.modelId ^ (1 + salt % 1_000);
        else if (field == 3) t.claimant = address(uint160(r.claimant) ^ uint160(1 + x % type(uint160).max));
        else if (field == 4) t.accused = address(uint160(r.accused) ^ uint160(1 + x % type(uint160).max));
        else if (field == 5) t.bond = r.bond ^ (1 + salt % 1e30);
        else if (field == 6) t.slashAmount = r.slashAmount ^ (1 + salt % 1e30);
        else if (field == 7) t.reward = r.reward ^ (1 + salt % 1e30);
        else if (field == 8) t.deadline = r.deadline ^ uint64(1 + salt % type(uint64).max);
        else if (field == 9) t.queryHash = r.queryHash ^ bytes32(1 + x % type(uint256).max);
        else if (field == 10) t.leaf = r.leaf ^ bytes32(1 + x % type(uint256).max);
        else if (field == 11) t.attestersHash = r.attestersHash ^ bytes32(1 + x % type(uint256).max);
        else if (field == 12) t.servedAt = r.servedAt ^ uint64(1 + salt % type(uint64).max);
        else t.notBefore = r.notBefore ^ uint64(1 + salt % type(uint64).max);
    }
}
