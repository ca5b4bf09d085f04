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
        (,,, s) = verifiers.verifierInfo(a);
    }

    function stakeOf(address a) internal view returns (uint256 s) {
        (s,,,) = verifiers.verifierInfo(a);
    }

    function pendingOf(address a) internal view returns (uint256 p) {
        (, p,,) = verifiers.verifierInfo(a);
    }

    /// @dev `who` joins `r` with `amount` and activates once the delay has passed.
    function joinActive(VerifierRegistry r, address who, uint256 amount) internal {
        vm.deal(who, who.balance + amount);
        vm.prank(who);
        r.join{value: amount}();
        (,, uint32 delay,) = r.config();
        vm.warp(block.timestamp + delay);
        r.activate(who);
    }

    // -------------------------------------------------------------- constructor

    function test_constructor_storesConfig() public view {
        (uint96 minStake, uint32 unbonding, uint32 activation, uint16 bps) = verifiers.config();
        vm.assertEq(uint256(minStake), 1 ether);
        vm.assertEq(uint256(unbonding), 30 days);
        vm.assertEq(uint256(activation), 2 days);
        vm.assertEq(uint256(bps), 2_000);
    }

    function test_constructor_maxPenaltyAccepted() public {
        VerifierRegistry r = new VerifierRegistry(1, 1, 1, 10_000, address(claims));
        (,,, uint16 bps) = r.config();
        vm.assertEq(uint256(bps), 10_000);
    }

    function test_RevertWhen_constructor_zeroMinStake() public {
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__InvalidConfig.selector));
        new VerifierRegistry(0, 30 days, 2 days, 2_000, address(claims));
    }

    function test_RevertWhen_constructor_zeroUnbonding() public {
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__InvalidConfig.selector));
        new VerifierRegistry(1 ether, 0, 2 days, 2_000, address(claims));
    }

    /// @dev Without an activation delay a sybil could join and count in the same block as it attests.
    function test_RevertWhen_constructor_zeroActivationDelay() public {
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__InvalidConfig.selector));
        new VerifierRegistry(1 ether, 30 days, 0, 2_000, address(claims));
    }

    function test_RevertWhen_constructor_penaltyAboveMax() public {
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__InvalidConfig.selector));
        new VerifierRegistry(1 ether, 30 days, 2 days, 10_001, address(claims));
    }

    function test_constructor_storesClaimManager() public {
        VerifierRegistry r = new VerifierRegistry(1 ether, 30 days, 2 days, 2_000, address(0xC0FFEE));
        vm.assertEq(r.claimManager(), address(0xC0FFEE));
    }

    function test_RevertWhen_constructor_zeroClaimManager() public {
        vm.expectRevert(abi.encodeWithSelector(ClaimManagerBound.ClaimManagerBound__ZeroAddress.selector));
        new VerifierRegistry(1 ether, 30 days, 2 days, 2_000, address(0));
    }

    // --------------------------------------------------------------------- join

    /// @dev A joiner's stake waits for the activation delay: it neither attests nor counts yet.
    function test_join_waitsForActivation() public {
        uint256 readyAt = block.timestamp + VERIFIER_ACTIVATION;
        vmx.expectEmit(address(verifiers));
        emit VerifierRegistry.VerifierJoined(newcomer, 2 ether, readyAt);
        vm.prank(newcomer);
        verifiers.join{value: 2 ether}();
        (uint256 stake, uint256 pending, uint256 at, VerifierRegistry.Status st) = verifiers.verifierInfo(newcomer);
        vm.assertEq(stake, 0, "nothing counted yet");
        vm.assertEq(pending, 2 ether);
        vm.assertEq(at, readyAt);
        vm.assertEq(uint256(st), uint256(VerifierRegistry.Status.Joining));
        vm.assertFalse(verifiers.isActive(newcomer));
        vm.assertEq(verifiers.activeCount(), 4);
        vm.assertEq(verifiers.activeStake(), 4 ether, "the quorum base is unchanged");
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

    function test_RevertWhen_join_whileJoining() public {
        vm.startPrank(newcomer);
        verifiers.join{value: 1 ether}();
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__AlreadyRegistered.selector, newcomer));
        verifiers.join{value: 1 ether}();
        vm.stopPrank();
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
        vm.assertEq(pendingOf(v0), 3 ether);
        vm.assertEq(verifiers.activeCount(), 3, "a returning verifier waits like any other");
        vm.warp(block.timestamp + VERIFIER_ACTIVATION);
        verifiers.activate(v0);
        vm.assertEq(stakeOf(v0), 3 ether);
        vm.assertEq(verifiers.activeCount(), 4);
        vm.assertEq(verifiers.activeStake(), 6 ether);
    }

    // ----------------------------------------------------------------- activate

    function test_activate_afterDelayCountsStake() public {
        vm.prank(newcomer);
        verifiers.join{value: 2 ether}();
        vm.warp(block.timestamp + VERIFIER_ACTIVATION);
        vmx.expectEmit(address(verifiers));
        emit VerifierRegistry.VerifierActivated(newcomer, 2 ether, 2 ether);
        vm.prank(address(0xD00D)); // anyone may activate: it only follows the clock
        verifiers.activate(newcomer);
        (uint256 stake, uint256 pending, uint256 at, VerifierRegistry.Status st) = verifiers.verifierInfo(newcomer);
        vm.assertEq(stake, 2 ether);
        vm.assertEq(pending, 0);
        vm.assertEq(at, 0);
        vm.assertEq(uint256(st), uint256(VerifierRegistry.Status.Active));
        vm.assertTrue(verifiers.isActive(newcomer));
        vm.assertEq(verifiers.activeCount(), 5);
        vm.assertEq(verifiers.activeStake(), 6 ether);
        vm.assertEq(verifiers.totalStaked(), 6 ether);
    }

    function test_RevertWhen_activate_beforeDelay() public {
        vm.prank(newcomer);
        verifiers.join{value: 1 ether}();
        uint256 readyAt = block.timestamp + VERIFIER_ACTIVATION;
        vm.warp(readyAt - 1);
        vm.expectRevert(
            abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__NotYetActivatable.selector, newcomer, readyAt)
        );
        verifiers.activate(newcomer);
        vm.warp(readyAt); // the boundary itself is enough
        verifiers.activate(newcomer);
        vm.assertTrue(verifiers.isActive(newcomer));
    }

    function test_RevertWhen_activate_nothingPending() public {
        // Unknown, active without pending stake, and leaving: nothing to activate.
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__NothingToActivate.selector, newcomer));
        verifiers.activate(newcomer);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__NothingToActivate.selector, v0));
        verifiers.activate(v0);
        vm.prank(v0);
        verifiers.requestLeave();
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__NothingToActivate.selector, v0));
        verifiers.activate(v0);
    }

    /// @dev A verifier that joined and left while joining never counts, even after its delay.
    function test_RevertWhen_activate_leftWhileJoining() public {
        vm.startPrank(newcomer);
        verifiers.join{value: 1 ether}();
        verifiers.requestLeave();
        vm.stopPrank();
        vm.warp(block.timestamp + VERIFIER_ACTIVATION);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__NothingToActivate.selector, newcomer));
        verifiers.activate(newcomer);
        vm.assertEq(verifiers.activeStake(), 4 ether);
    }

    // ----------------------------------------------------------------- addStake

    function test_addStake_pendingUntilActivated() public {
        uint256 readyAt = block.timestamp + VERIFIER_ACTIVATION;
        vmx.expectEmit(address(verifiers));
        emit VerifierRegistry.VerifierStakeAdded(v0, 0.5 ether, 0.5 ether, readyAt);
        vm.prank(v0);
        verifiers.addStake{value: 0.5 ether}();
        vm.assertEq(stakeOf(v0), 1 ether, "counted stake unchanged");
        vm.assertEq(pendingOf(v0), 0.5 ether);
        vm.assertTrue(verifiers.isActive(v0), "still attests with its counted stake");
        vm.assertEq(verifiers.activeStake(), 4 ether);
        vm.assertEq(verifiers.totalStaked(), 4.5 ether);
        vm.assertEq(address(verifiers).balance, 4.5 ether);
        vm.warp(readyAt);
        vmx.expectEmit(address(verifiers));
        emit VerifierRegistry.VerifierActivated(v0, 0.5 ether, 1.5 ether);
        verifiers.activate(v0);
        vm.assertEq(stakeOf(v0), 1.5 ether);
        vm.assertEq(verifiers.activeStake(), 4.5 ether);
        vm.assertEq(verifiers.activeCount(), 4, "no second count for the same verifier");
    }

    /// @dev Adding more restarts the delay for everything pending: no stake counts sooner than
    /// the delay after it arrived.
    function test_addStake_restartsDelay() public {
        vm.prank(newcomer);
        verifiers.join{value: 1 ether}();
        vm.warp(block.timestamp + VERIFIER_ACTIVATION - 1);
        vm.prank(newcomer);
        verifiers.addStake{value: 1 ether}();
        uint256 readyAt = block.timestamp + VERIFIER_ACTIVATION;
        vm.warp(block.timestamp + 1);
        vm.expectRevert(
            abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__NotYetActivatable.selector, newcomer, readyAt)
        );
        verifiers.activate(newcomer);
        vm.warp(readyAt);
        verifiers.activate(newcomer);
        vm.assertEq(stakeOf(newcomer), 2 ether);
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
        (uint256 stake, uint256 pending, uint256 unbondAt, VerifierRegistry.Status st) = verifiers.verifierInfo(v0);
        vm.assertEq(stake, 1 ether);
        vm.assertEq(pending, 0);
        vm.assertEq(unbondAt, at);
        vm.assertEq(uint256(st), uint256(VerifierRegistry.Status.Leaving));
        vm.assertFalse(verifiers.isActive(v0));
        vm.assertEq(verifiers.activeCount(), 3);
        vm.assertEq(verifiers.activeStake(), 3 ether);
        vm.assertEq(verifiers.quorumStake(), 2 ether);
        vm.assertEq(verifiers.totalStaked(), 4 ether);
    }

    /// @dev Pending stake unbonds with the rest; only the counted stake leaves the quorum base.
    function test_requestLeave_withPendingStake() public {
        vm.prank(v0);
        verifiers.addStake{value: 2 ether}();
        vm.prank(v0);
        verifiers.requestLeave();
        (uint256 stake, uint256 pending,, VerifierRegistry.Status st) = verifiers.verifierInfo(v0);
        vm.assertEq(stake, 3 ether, "pending joins the unbonding stake");
        vm.assertEq(pending, 0);
        vm.assertEq(uint256(st), uint256(VerifierRegistry.Status.Leaving));
        vm.assertEq(verifiers.activeStake(), 3 ether);
        vm.warp(block.timestamp + 30 days);
        uint256 before = v0.balance;
        vm.prank(v0);
        verifiers.withdraw();
        vm.assertEq(v0.balance, before + 3 ether);
    }

    function test_requestLeave_whileJoining() public {
        vm.prank(newcomer);
        verifiers.join{value: 2 ether}();
        vm.prank(newcomer);
        verifiers.requestLeave();
        (uint256 stake, uint256 pending,, VerifierRegistry.Status st) = verifiers.verifierInfo(newcomer);
        vm.assertEq(stake, 2 ether);
        vm.assertEq(pending, 0);
        vm.assertEq(uint256(st), uint256(VerifierRegistry.Status.Leaving));
        vm.assertEq(verifiers.activeCount(), 4, "it never counted");
        vm.assertEq(verifiers.activeStake(), 4 ether);
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
        (uint256 stake, uint256 pending, uint256 unbondAt, VerifierRegistry.Status st) = verifiers.verifierInfo(v0);
        vm.assertEq(stake + pending + unbondAt + uint256(st), 0);
        vm.assertEq(verifiers.totalStaked(), 3 ether);
        vm.assertEq(address(verifiers).balance, 3 ether);
    }

    function test_RevertWhen_withdraw_active() public {
        vm.prank(v0);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__NotLeaving.selector, v0));
        verifiers.withdraw();
    }

    function test_RevertWhen_withdraw_joining() public {
        vm.prank(newcomer);
        verifiers.join{value: 1 ether}();
        vm.warp(block.timestamp + 30 days);
        vm.prank(newcomer);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__NotLeaving.selector, newcomer));
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
        (uint256 stake,, uint256 unbondAt, VerifierRegistry.Status st) = verifiers.verifierInfo(v0);
        vm.assertEq(stake, 0.8 ether);
        vm.assertEq(unbondAt, block.timestamp + 30 days);
        vm.assertEq(uint256(st), uint256(VerifierRegistry.Status.Leaving));
        vm.assertEq(verifiers.activeCount(), 3);
        vm.assertEq(verifiers.activeStake(), 3 ether, "its whole stake left the quorum base");
        vm.assertEq(verifiers.totalStaked(), 3.8 ether);
        vm.assertEq(address(verifiers).balance, 3.8 ether);
    }

    function test_penalize_aboveMinimumStaysActive() public {
        vm.prank(v0);
        verifiers.addStake{value: 1 ether}();
        vm.warp(block.timestamp + VERIFIER_ACTIVATION);
        verifiers.activate(v0);
        vmx.expectEmit(address(verifiers));
        emit VerifierRegistry.VerifierPenalized(v0, 0.4 ether, 1.6 ether, false);
        penalizeOne(v0);
        vm.assertTrue(verifiers.isActive(v0));
        vm.assertEq(verifiers.activeCount(), 4);
        vm.assertEq(verifiers.activeStake(), 4.6 ether, "the penalty leaves the quorum base");
    }

    /// @dev Only counted stake is at risk (and only it attested); pending stake is untouched, and
    /// it unbonds with the rest when the penalty deactivates the verifier.
    function test_penalize_pendingStakeUntouched() public {
        vm.prank(v0);
        verifiers.addStake{value: 5 ether}();
        vmx.expectEmit(address(verifiers));
        emit VerifierRegistry.VerifierPenalized(v0, 0.2 ether, 0.8 ether, true);
        penalizeOne(v0);
        (uint256 stake, uint256 pending,, VerifierRegistry.Status st) = verifiers.verifierInfo(v0);
        vm.assertEq(stake, 5.8 ether, "counted remainder plus pending, unbonding");
        vm.assertEq(pending, 0);
        vm.assertEq(uint256(st), uint256(VerifierRegistry.Status.Leaving));
        vm.assertEq(verifiers.activeStake(), 3 ether);
        vm.assertEq(verifiers.totalStaked(), 8.8 ether);
        vm.assertEq(address(verifiers).balance, 8.8 ether);
    }

    function test_penalize_joiningLosesNothing() public {
        vm.prank(newcomer);
        verifiers.join{value: 2 ether}();
        vm.assertEq(penalizeOne(newcomer), 0);
        vm.assertEq(pendingOf(newcomer), 2 ether);
        vm.assertEq(uint256(status(newcomer)), uint256(VerifierRegistry.Status.Joining));
        vm.assertEq(verifiers.activeStake(), 4 ether);
    }

    function test_penalize_exactlyMinimumStaysActive() public {
        joinActive(verifiers, newcomer, 1.25 ether);
        vmx.expectEmit(address(verifiers));
        emit VerifierRegistry.VerifierPenalized(newcomer, 0.25 ether, 1 ether, false);
        penalizeOne(newcomer);
        vm.assertTrue(verifiers.isActive(newcomer));
    }

    function test_penalize_oneWeiBelowMinimumDeactivates() public {
        joinActive(verifiers, newcomer, 1.25 ether - 2);
        vmx.expectEmit(address(verifiers));
        emit VerifierRegistry.VerifierPenalized(newcomer, 0.25 ether - 1, 1 ether - 1, true);
        penalizeOne(newcomer);
        vm.assertFalse(verifiers.isActive(newcomer));
        vm.assertEq(verifiers.activeCount(), 4);
    }

    /// @dev A verifier that asked to leave is still penalizable for the whole unbonding period,
    /// and the penalty does not move its withdrawal time.
    function test_penalize_leavingVerifierKeepsUnbondAt() public {
        vm.prank(v0);
        verifiers.requestLeave();
        uint256 at = block.timestamp + 30 days;
        vm.warp(block.timestamp + 10 days);
        vmx.expectEmit(address(verifiers));
        emit VerifierRegistry.VerifierPenalized(v0, 0.2 ether, 0.8 ether, false);
        penalizeOne(v0);
        (,, uint256 unbondAt,) = verifiers.verifierInfo(v0);
        vm.assertEq(unbondAt, at);
        vm.assertEq(verifiers.activeCount(), 3);
        vm.assertEq(verifiers.activeStake(), 3 ether, "a leaving verifier's penalty is not taken twice");
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
        vm.assertEq(verifiers.activeStake(), 2 ether);
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
        VerifierRegistry r = new VerifierRegistry(1 ether, 30 days, 2 days, 2_000, address(stub));
        joinActive(r, newcomer, 1 ether);
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
        VerifierRegistry r = new VerifierRegistry(1 ether, 30 days, 2 days, bps, address(sink));
        joinActive(r, newcomer, stake);
        uint256 left = stake;
        for (uint256 i; i < rounds; ++i) {
            vm.prank(address(sink));
            uint256 taken = r.penalize(list(newcomer));
            vm.assertEq(taken, left * bps / 10_000);
            vm.assertLe(taken * 10_000, left * bps);
            left -= taken;
            (uint256 s,,,) = r.verifierInfo(newcomer);
            vm.assertEq(s, left);
        }
        vm.assertEq(address(sink).balance, stake - left);
        vm.assertEq(r.totalStaked(), left);
        vm.assertEq(address(r).balance, left);
        vm.assertEq(r.isActive(newcomer), left >= 1 ether);
        vm.assertEq(r.activeStake(), left >= 1 ether ? left : 0);
    }

    // -------------------------------------------------------------------- views

    function test_quorumStake_fixtureFourActive() public view {
        vm.assertEq(verifiers.activeCount(), 4);
        vm.assertEq(verifiers.activeStake(), 4 ether);
        // ceil(2/3 × 4 ETH): three of the four equal verifiers.
        uint256 q = verifiers.quorumStake();
        vm.assertEq(q, uint256(8 ether + 2) / 3);
        vm.assertGe(3 ether, q);
        vm.assertLt(2 ether, q);
    }

    function test_quorumStake_zeroWhenEmpty() public {
        VerifierRegistry r = new VerifierRegistry(1 ether, 30 days, 2 days, 2_000, address(claims));
        vm.assertEq(r.activeCount(), 0);
        vm.assertEq(r.activeStake(), 0);
        vm.assertEq(r.quorumStake(), 0);
    }

    /// @dev Random stakes: quorumStake is the smallest stake that is at least two thirds of the
    /// active stake, which is exactly ClaimManager's test signed × 3 >= total × 2.
    function testFuzz_quorumStake_ceilTwoThirds(uint256 n, uint256 seed) public {
        n = bound(n, 1, 20);
        VerifierRegistry r = new VerifierRegistry(1 ether, 30 days, 2 days, 2_000, address(claims));
        uint256 sum;
        for (uint256 i; i < n; ++i) {
            address a = address(uint160(0x20000 + i));
            uint256 amount = bound(uint256(keccak256(abi.encode(seed, i))), 1 ether, 1_000 ether);
            vm.deal(a, amount);
            vm.prank(a);
            r.join{value: amount}();
            sum += amount;
        }
        vm.assertEq(r.activeStake(), 0, "nothing counts before activation");
        vm.warp(block.timestamp + 2 days);
        for (uint256 i; i < n; ++i) {
            r.activate(address(uint160(0x20000 + i)));
        }
        uint256 q = r.quorumStake();
        vm.assertEq(r.activeCount(), n);
        vm.assertEq(r.activeStake(), sum);
        vm.assertGe(3 * q, 2 * sum);
        vm.assertLt(3 * (q - 1), 2 * sum);
    }

    function test_attestingStake_countsActiveOnly() public {
        address[] memory l = sortedAttesters(4);
        vm.prank(l[3]);
        verifiers.requestLeave();
        address joining = address(0x7E58);
        vm.deal(joining, 5 ether);
        vm.prank(joining);
        verifiers.join{value: 5 ether}();
        address[] memory mixed = new address[](6);
        for (uint256 i; i < 4; ++i) {
            mixed[i] = l[i];
        }
        mixed[4] = newcomer; // never joined
        mixed[5] = joining; // joined, not yet activated
        (uint256 signed, uint256 total, bool allActive) = verifiers.attestingStake(mixed);
        vm.assertEq(signed, 3 ether, "the leaving, the stranger and the joiner count nothing");
        vm.assertEq(total, 3 ether);
        vm.assertFalse(allActive);
        address[] memory three = new address[](3);
        for (uint256 i; i < 3; ++i) {
            three[i] = l[i];
        }
        (signed, total, allActive) = verifiers.attestingStake(three);
        vm.assertEq(signed, 3 ether);
        vm.assertTrue(allActive);
    }

    function test_attestingStake_weighsByStake() public {
        joinActive(verifiers, newcomer, 10 ether);
        (uint256 signed, uint256 total, bool allActive) = verifiers.attestingStake(list(newcomer));
        vm.assertEq(signed, 10 ether);
        vm.assertEq(total, 14 ether);
        vm.assertTrue(allActive);
        vm.assertGe(signed * 3, total * 2, "one heavy verifier is a quorum alone");
    }

    function test_attestingStake_empty() public view {
        (uint256 signed, uint256 total, bool allActive) = verifiers.attestingStake(new address[](0));
        vm.assertEq(signed, 0);
        vm.assertEq(total, 4 ether);
        vm.assertTrue(allActive);
    }

    function test_isActive_states() public {
        vm.assertTrue(verifiers.isActive(v0));
        vm.assertFalse(verifiers.isActive(newcomer));
        vm.prank(newcomer);
        verifiers.join{value: 1 ether}();
        vm.assertFalse(verifiers.isActive(newcomer), "joining is not active");
        vm.prank(v0);
        verifiers.requestLeave();
        vm.assertFalse(verifiers.isActive(v0));
    }

    function test_verifierInfo_unknownIsEmpty() public view {
        (uint256 stake, uint256 pending, uint256 readyAt, VerifierRegistry.Status st) = verifiers.verifierInfo(newcomer);
        vm.assertEq(stake + pending + readyAt + uint256(st), 0);
    }

    function test_activeCount_tracksJoinsActivationsAndLeaves() public {
        vm.prank(newcomer);
        verifiers.join{value: 1 ether}();
        vm.prank(v0);
        verifiers.requestLeave();
        vm.prank(v1);
        verifiers.requestLeave();
        vm.assertEq(verifiers.activeCount(), 2);
        vm.assertEq(verifiers.activeStake(), 2 ether);
        vm.warp(block.timestamp + VERIFIER_ACTIVATION);
        verifiers.activate(newcomer);
        vm.assertEq(verifiers.activeCount(), 3);
        vm.assertEq(verifiers.activeStake(), 3 ether);
    }

    function test_totalStaked_matchesBalance() public {
        joinActive(verifiers, newcomer, 5 ether);
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
