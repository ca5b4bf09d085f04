// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {UnitHelpers, Actor, ClaimManagerStub} from "./base/UnitHelpers.sol";
import {VerifierRegistry} from "../src/VerifierRegistry.sol";
import {ClaimManagerBound} from "../src/lib/ClaimManagerBound.sol";

contract VerifierRegistryTest is UnitHelpers {
    address internal newcomer = address(0x7E57);
    address internal v0;
    address internal v1;

    function setUp() public override {
        super.setUp();
        v0 = vm.addr(verifierPks[0]);
        v1 = vm.addr(verifierPks[1]);
        vm.deal(newcomer, 100 ether);
    }

    // ------------------------------------------------------------------ helpers

    function list(address a) internal pure returns (address[] memory l) {
        l = new address[](1);
        l[0] = a;
    }

    function penalizeOne(address a) internal returns (uint256 total) {
        vm.prank(address(claims));
        total = verifiers.penalize(list(a));
    }

    function status(address a) internal view returns (VerifierRegistry.Status s) {
        (,, s) = verifiers.verifierInfo(a);
    }

    function stakeOf(address a) internal view returns (uint256 s) {
        (s,,) = verifiers.verifierInfo(a);
    }

    function expectedQuorum(uint256 n) internal pure returns (uint256 q) {
        if (n == 0) return 1;
        q = (2 * n) / 3;
        if (q * 3 < 2 * n) ++q;
    }

    // -------------------------------------------------------------- constructor

    function test_constructor_storesConfig() public view {
        (uint96 minStake, uint32 unbonding, uint16 bps) = verifiers.config();
        vm.assertEq(uint256(minStake), 1 ether);
        vm.assertEq(uint256(unbonding), 30 days);
        vm.assertEq(uint256(bps), 2_000);
    }

    function test_constructor_maxPenaltyAccepted() public {
        VerifierRegistry r = new VerifierRegistry(1, 1, 10_000, address(claims));
        (,, uint16 bps) = r.config();
        vm.assertEq(uint256(bps), 10_000);
    }

    function test_RevertWhen_constructor_zeroMinStake() public {
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__InvalidConfig.selector));
        new VerifierRegistry(0, 30 days, 2_000, address(claims));
    }

    function test_RevertWhen_constructor_zeroUnbonding() public {
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__InvalidConfig.selector));
        new VerifierRegistry(1 ether, 0, 2_000, address(claims));
    }

    function test_RevertWhen_constructor_penaltyAboveMax() public {
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__InvalidConfig.selector));
        new VerifierRegistry(1 ether, 30 days, 10_001, address(claims));
    }

    function test_constructor_storesClaimManager() public {
        VerifierRegistry r = new VerifierRegistry(1 ether, 30 days, 2_000, address(0xC0FFEE));
        vm.assertEq(r.claimManager(), address(0xC0FFEE));
    }

    function test_RevertWhen_constructor_zeroClaimManager() public {
        vm.expectRevert(abi.encodeWithSelector(ClaimManagerBound.ClaimManagerBound__ZeroAddress.selector));
        new VerifierRegistry(1 ether, 30 days, 2_000, address(0));
    }

    // --------------------------------------------------------------------- join

    function test_join_becomesActive() public {
        vmx.expectEmit(address(verifiers));
        emit VerifierRegistry.VerifierJoined(newcomer, 2 ether);
        vm.prank(newcomer);
        verifiers.join{value: 2 ether}();
        (uint256 stake, uint256 unbondAt, VerifierRegistry.Status st) = verifiers.verifierInfo(newcomer);
        vm.assertEq(stake, 2 ether);
        vm.assertEq(unbondAt, 0);
        vm.assertEq(uint256(st), uint256(VerifierRegistry.Status.Active));
        vm.assertTrue(verifiers.isActive(newcomer));
        vm.assertEq(verifiers.activeCount(), 5);
        vm.assertEq(verifiers.totalStaked(), 6 ether);
        vm.assertEq(address(verifiers).balance, 6 ether);
    }

    function test_RevertWhen_join_insufficientStake() public {
        vm.prank(newcomer);
        vm.expectRevert(
            abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__InsufficientStake.selector, 1 ether, 1 ether - 1)
        );
        verifiers.join{value: 1 ether - 1}();
    }

    function test_RevertWhen_join_alreadyActive() public {
        vm.prank(v0);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__AlreadyRegistered.selector, v0));
        verifiers.join{value: 1 ether}();
    }

    function test_RevertWhen_join_whileLeaving() public {
        vm.startPrank(v0);
        verifiers.requestLeave();
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__AlreadyRegistered.selector, v0));
        verifiers.join{value: 1 ether}();
        vm.stopPrank();
    }

    function test_join_againAfterWithdraw() public {
        vm.prank(v0);
        verifiers.requestLeave();
        vm.warp(block.timestamp + 30 days);
        vm.startPrank(v0);
        verifiers.withdraw();
        verifiers.join{value: 3 ether}();
        vm.stopPrank();
        vm.assertEq(stakeOf(v0), 3 ether);
        vm.assertEq(verifiers.activeCount(), 4);
    }

    // ----------------------------------------------------------------- addStake

    function test_addStake_increasesStake() public {
        vmx.expectEmit(address(verifiers));
        emit VerifierRegistry.VerifierStakeAdded(v0, 0.5 ether, 1.5 ether);
        vm.prank(v0);
        verifiers.addStake{value: 0.5 ether}();
        vm.assertEq(stakeOf(v0), 1.5 ether);
        vm.assertEq(verifiers.totalStaked(), 4.5 ether);
        vm.assertEq(address(verifiers).balance, 4.5 ether);
    }

    function test_RevertWhen_addStake_notVerifier() public {
        vm.prank(newcomer);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__NotActive.selector, newcomer));
        verifiers.addStake{value: 1 ether}();
    }

    function test_RevertWhen_addStake_leaving() public {
        vm.startPrank(v0);
        verifiers.requestLeave();
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__NotActive.selector, v0));
        verifiers.addStake{value: 1 ether}();
        vm.stopPrank();
    }

    function test_RevertWhen_addStake_zero() public {
        vm.prank(v0);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__ZeroValue.selector));
        verifiers.addStake();
    }

    // ------------------------------------------------------------- requestLeave

    function test_requestLeave_leavesActiveSetAtOnce() public {
        uint256 at = block.timestamp + 30 days;
        vmx.expectEmit(address(verifiers));
        emit VerifierRegistry.VerifierLeaveRequested(v0, at);
        vm.prank(v0);
        verifiers.requestLeave();
        (uint256 stake, uint256 unbondAt, VerifierRegistry.Status st) = verifiers.verifierInfo(v0);
        vm.assertEq(stake, 1 ether);
        vm.assertEq(unbondAt, at);
        vm.assertEq(uint256(st), uint256(VerifierRegistry.Status.Leaving));
        vm.assertFalse(verifiers.isActive(v0));
        vm.assertEq(verifiers.activeCount(), 3);
        vm.assertEq(verifiers.quorum(), 2);
        vm.assertEq(verifiers.totalStaked(), 4 ether);
    }

    function test_RevertWhen_requestLeave_twice() public {
        vm.startPrank(v0);
        verifiers.requestLeave();
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__NotActive.selector, v0));
        verifiers.requestLeave();
        vm.stopPrank();
    }

    function test_RevertWhen_requestLeave_notVerifier() public {
        vm.prank(newcomer);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__NotActive.selector, newcomer));
        verifiers.requestLeave();
    }

    // ----------------------------------------------------------------- withdraw

    function test_withdraw_paysStakeAfterUnbonding() public {
        vm.prank(v0);
        verifiers.requestLeave();
        vm.warp(block.timestamp + 30 days);
        uint256 before = v0.balance;
        vmx.expectEmit(address(verifiers));
        emit VerifierRegistry.VerifierWithdrawn(v0, 1 ether);
        vm.prank(v0);
        verifiers.withdraw();
        vm.assertEq(v0.balance, before + 1 ether);
        (uint256 stake, uint256 unbondAt, VerifierRegistry.Status st) = verifiers.verifierInfo(v0);
        vm.assertEq(stake + unbondAt + uint256(st), 0);
        vm.assertEq(verifiers.totalStaked(), 3 ether);
        vm.assertEq(address(verifiers).balance, 3 ether);
    }

    function test_RevertWhen_withdraw_active() public {
        vm.prank(v0);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__NotLeaving.selector, v0));
        verifiers.withdraw();
    }

    function test_RevertWhen_withdraw_notVerifier() public {
        vm.prank(newcomer);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__NotLeaving.selector, newcomer));
        verifiers.withdraw();
    }

    function test_RevertWhen_withdraw_stillUnbonding() public {
        vm.prank(v0);
        verifiers.requestLeave();
        uint256 at = block.timestamp + 30 days;
        vm.warp(at - 1);
        vm.prank(v0);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__StillUnbonding.selector, v0, at));
        verifiers.withdraw();
    }

    function test_RevertWhen_withdraw_verifierRejectsEth() public {
        Actor a = new Actor();
        vm.deal(address(a), 1 ether);
        a.exec(address(verifiers), 1 ether, abi.encodeCall(VerifierRegistry.join, ()));
        a.exec(address(verifiers), 0, abi.encodeCall(VerifierRegistry.requestLeave, ()));
        vm.warp(block.timestamp + 30 days);
        a.setReject(true);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__TransferFailed.selector));
        a.exec(address(verifiers), 0, abi.encodeCall(VerifierRegistry.withdraw, ()));
    }

    // ----------------------------------------------------------------- penalize

    function test_penalize_belowMinimumDeactivates() public {
        uint256 before = address(claims).balance;
        vmx.expectEmit(address(verifiers));
        emit VerifierRegistry.VerifierPenalized(v0, 0.2 ether, 0.8 ether, true);
        uint256 total = penalizeOne(v0);
        vm.assertEq(total, 0.2 ether);
        vm.assertEq(address(claims).balance, before + 0.2 ether);
        (uint256 stake, uint256 unbondAt, VerifierRegistry.Status st) = verifiers.verifierInfo(v0);
        vm.assertEq(stake, 0.8 ether);
        vm.assertEq(unbondAt, block.timestamp + 30 days);
        vm.assertEq(uint256(st), uint256(VerifierRegistry.Status.Leaving));
        vm.assertEq(verifiers.activeCount(), 3);
        vm.assertEq(verifiers.totalStaked(), 3.8 ether);
        vm.assertEq(address(verifiers).balance, 3.8 ether);
    }

    function test_penalize_aboveMinimumStaysActive() public {
        vm.prank(v0);
        verifiers.addStake{value: 1 ether}();
        vmx.expectEmit(address(verifiers));
        emit VerifierRegistry.VerifierPenalized(v0, 0.4 ether, 1.6 ether, false);
        penalizeOne(v0);
        vm.assertTrue(verifiers.isActive(v0));
        vm.assertEq(verifiers.activeCount(), 4);
    }

    function test_penalize_exactlyMinimumStaysActive() public {
        vm.prank(newcomer);
        verifiers.join{value: 1.25 ether}();
        vmx.expectEmit(address(verifiers));
        emit VerifierRegistry.VerifierPenalized(newcomer, 0.25 ether, 1 ether, false);
        penalizeOne(newcomer);
        vm.assertTrue(verifiers.isActive(newcomer));
    }

    function test_penalize_oneWeiBelowMinimumDeactivates() public {
        vm.prank(newcomer);
        verifiers.join{value: 1.25 ether - 2}();
        vmx.expectEmit(address(verifiers));
        emit VerifierRegistry.VerifierPenalized(newcomer, 0.25 ether - 1, 1 ether - 1, true);
        penalizeOne(newcomer);
        vm.assertFalse(verifiers.isActive(newcomer));
        vm.assertEq(verifiers.activeCount(), 4);
    }

    function test_penalize_leavingVerifierKeepsUnbondAt() public {
        vm.prank(v0);
        verifiers.requestLeave();
        uint256 at = block.timestamp + 30 days;
        vm.warp(block.timestamp + 10 days);
        vmx.expectEmit(address(verifiers));
        emit VerifierRegistry.VerifierPenalized(v0, 0.2 ether, 0.8 ether, false);
        penalizeOne(v0);
        (, uint256 unbondAt,) = verifiers.verifierInfo(v0);
        vm.assertEq(unbondAt, at);
        vm.assertEq(verifiers.activeCount(), 3);
    }

    function test_penalize_severalSumsPenalties() public {
        address[] memory l = new address[](3);
        l[0] = v0;
        l[1] = v1;
        l[2] = newcomer; // not a verifier: nothing to take
        vm.prank(address(claims));
        uint256 total = verifiers.penalize(l);
        vm.assertEq(total, 0.4 ether);
        vm.assertEq(stakeOf(newcomer), 0);
        vm.assertEq(uint256(status(newcomer)), uint256(VerifierRegistry.Status.None));
        vm.assertEq(verifiers.activeCount(), 2);
        vm.assertEq(verifiers.totalStaked(), 3.6 ether);
    }

    function test_penalize_emptyList() public {
        vm.prank(address(claims));
        vm.assertEq(verifiers.penalize(new address[](0)), 0);
        vm.assertEq(verifiers.totalStaked(), 4 ether);
    }

    function test_RevertWhen_penalize_notClaimManager() public {
        address[] memory l = list(v0);
        vm.prank(v1);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__NotClaimManager.selector, v1));
        verifiers.penalize(l);
    }

    function test_RevertWhen_penalize_claimManagerRejectsEth() public {
        ClaimManagerStub stub = new ClaimManagerStub();
        VerifierRegistry r = new VerifierRegistry(1 ether, 30 days, 2_000, address(stub));
        vm.prank(newcomer);
        r.join{value: 1 ether}();
        address[] memory l = list(newcomer);
        vm.prank(address(stub));
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__TransferFailed.selector));
        r.penalize(l);
    }

    function testFuzz_penalize_neverMoreThanPenaltyBps(uint256 stake, uint16 bps, uint8 rounds) public {
        stake = bound(stake, 1 ether, 1_000 ether);
        bps = uint16(bound(bps, 0, 10_000));
        rounds = uint8(bound(rounds, 1, 4));
        ClaimManagerStubPayable sink = new ClaimManagerStubPayable();
        VerifierRegistry r = new VerifierRegistry(1 ether, 30 days, bps, address(sink));
        vm.deal(newcomer, stake);
        vm.prank(newcomer);
        r.join{value: stake}();
        uint256 left = stake;
        for (uint256 i; i < rounds; ++i) {
            vm.prank(address(sink));
            uint256 taken = r.penalize(list(newcomer));
            vm.assertEq(taken, left * bps / 10_000);
            vm.assertLe(taken * 10_000, left * bps);
            left -= taken;
            (uint256 s,,) = r.verifierInfo(newcomer);
            vm.assertEq(s, left);
        }
        vm.assertEq(address(sink).balance, stake - left);
        vm.assertEq(r.totalStaked(), left);
        vm.assertEq(address(r).balance, left);
        vm.assertEq(r.isActive(newcomer), left >= 1 ether);
    }

    // -------------------------------------------------------------------- views

    function test_quorum_fixtureFourActive() public view {
        vm.assertEq(verifiers.activeCount(), 4);
        vm.assertEq(verifiers.quorum(), 3);
    }

    function test_quorum_atLeastOneWhenEmpty() public {
        VerifierRegistry r = new VerifierRegistry(1 ether, 30 days, 2_000, address(claims));
        vm.assertEq(r.activeCount(), 0);
        vm.assertEq(r.quorum(), 1);
    }

    function testFuzz_quorum_ceilTwoThirds(uint256 n) public {
        n = bound(n, 0, 40);
        VerifierRegistry r = new VerifierRegistry(1 ether, 30 days, 2_000, address(claims));
        for (uint256 i; i < n; ++i) {
            address a = address(uint160(0x20000 + i));
            vm.deal(a, 1 ether);
            vm.prank(a);
            r.join{value: 1 ether}();
        }
        uint256 q = r.quorum();
        vm.assertEq(r.activeCount(), n);
        vm.assertEq(q, expectedQuorum(n));
        if (n > 0) {
            vm.assertGe(3 * q, 2 * n);
            vm.assertLt(3 * (q - 1), 2 * n);
        }
    }

    function test_quorumCheck_countsActiveOnly() public {
        address[] memory l = sortedAttesters(4);
        vm.prank(l[3]);
        verifiers.requestLeave();
        address[] memory withStranger = new address[](5);
        for (uint256 i; i < 4; ++i) {
            withStranger[i] = l[i];
        }
        withStranger[4] = newcomer;
        (uint256 active, uint256 required) = verifiers.quorumCheck(withStranger);
        vm.assertEq(active, 3);
        vm.assertEq(required, 2);
    }

    function test_quorumCheck_empty() public view {
        (uint256 active, uint256 required) = verifiers.quorumCheck(new address[](0));
        vm.assertEq(active, 0);
        vm.assertEq(required, 3);
    }

    function test_isActive_states() public {
        vm.assertTrue(verifiers.isActive(v0));
        vm.assertFalse(verifiers.isActive(newcomer));
        vm.prank(v0);
        verifiers.requestLeave();
        vm.assertFalse(verifiers.isActive(v0));
    }

    function test_verifierInfo_unknownIsEmpty() public view {
        (uint256 stake, uint256 unbondAt, VerifierRegistry.Status st) = verifiers.verifierInfo(newcomer);
        vm.assertEq(stake + unbondAt + uint256(st), 0);
    }

    function test_activeCount_tracksJoinsAndLeaves() public {
        vm.prank(newcomer);
        verifiers.join{value: 1 ether}();
        vm.prank(v0);
        verifiers.requestLeave();
        vm.prank(v1);
        verifiers.requestLeave();
        vm.assertEq(verifiers.activeCount(), 3);
    }

    function test_totalStaked_matchesBalance() public {
        vm.prank(newcomer);
        verifiers.join{value: 5 ether}();
        penalizeOne(newcomer);
        vm.assertEq(verifiers.totalStaked(), 8 ether);
        vm.assertEq(address(verifiers).balance, 8 ether);
    }

    function test_claimManager_fixture() public view {
        vm.assertEq(verifiers.claimManager(), address(claims));
    }
}

/// @dev A ClaimManager stand-in that accepts the penalties.
contract ClaimManagerStubPayable {
    receive() external payable {}
}
