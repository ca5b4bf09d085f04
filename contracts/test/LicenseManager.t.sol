// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {UnitHelpers, Actor, ClaimManagerStub} from "./base/UnitHelpers.sol";
import {LicenseManager} from "../src/LicenseManager.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {ClaimManager} from "../src/ClaimManager.sol";
import {ClaimManagerBound} from "../src/lib/ClaimManagerBound.sol";
import {Terms, LicenseStatus} from "../src/lib/OMLTypes.sol";
import {IModelRegistry} from "../src/interfaces/IOML.sol";

contract LicenseManagerTest is UnitHelpers {
    address internal other = address(0x0123);
    /// @dev When the fixture licensed its host: its start, after the verifiers' activation delay.
    uint256 internal constant START = 1_700_000_000 + 2 days;
    address internal constant OTHER_GATEWAY = address(0x6A7F);

    // ------------------------------------------------------------------ helpers

    function termsHash() internal view returns (bytes32 h) {
        (,, h) = registry.currentTerms(modelId);
    }

    function expectedAgreement(uint256 model, address who, bytes32 th, string memory endpoint)
        internal
        view
        returns (bytes32)
    {
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("LicenseAgreement(uint256 modelId,address host,bytes32 termsHash,bytes32 endpointHash)"),
                model,
                who,
                th,
                keccak256(bytes(endpoint))
            )
        );
        return keccak256(abi.encodePacked(hex"1901", domainOf(address(licenses)), structHash));
    }

    /// @dev Exit as the protocol has it: the permission service closes the usage account.
    function exitAndWait(uint256 id) internal returns (uint256 unbondAt) {
        vm.prank(host);
        licenses.requestExit(id);
        closeUsage(id);
        unbondAt = block.timestamp + terms.unbondingPeriod;
        vm.warp(unbondAt);
    }

    function repeat(bytes1 c, uint256 n) internal pure returns (string memory) {
        bytes memory b = new bytes(n);
        for (uint256 i; i < n; ++i) {
            b[i] = c;
        }
        return string(b);
    }

    // -------------------------------------------------------------- constructor

    function test_constructor_storesClaimManagerAndWiring() public {
        LicenseManager lm =
            new LicenseManager(IModelRegistry(address(registry)), address(0xC0FFEE), address(0x5E77));
        vm.assertEq(lm.claimManager(), address(0xC0FFEE));
        vm.assertEq(lm.wiring(), address(registry));
        vm.assertEq(lm.usageSettlement(), address(0x5E77));
    }

    function test_RevertWhen_constructor_zeroClaimManager() public {
        vm.expectRevert(abi.encodeWithSelector(ClaimManagerBound.ClaimManagerBound__ZeroAddress.selector));
        new LicenseManager(IModelRegistry(address(registry)), address(0), address(usage));
    }

    // ----------------------------------------------------------- acquireLicense

    function test_acquireLicense_opensLicenseAndEmits() public {
        bytes32 th = termsHash();
        string memory ep = "https://other.example";
        bytes32 ag = expectedAgreement(modelId, other, th, ep);
        uint256 now_ = block.timestamp;
        vm.deal(other, 12 ether);
        vmx.expectEmit(address(licenses));
        emit LicenseManager.LicenseAcquired(2, modelId, other, 12 ether, 1, ag, now_ + 365 days, ep, OTHER_GATEWAY);
        vm.prank(other);
        uint256 id = licenses.acquireLicense{value: 12 ether}(modelId, ep, th, OTHER_GATEWAY);

        vm.assertEq(id, 2);
        vm.assertEq(licenses.licenseCount(), 2);
        LicenseManager.License memory l = licenses.getLicense(id);
        vm.assertEq(l.host, other);
        vm.assertEq(uint256(l.expiresAt), now_ + 365 days);
        vm.assertEq(uint256(l.unbondAt), 0);
        vm.assertEq(uint256(l.status), uint256(LicenseStatus.Active));
        vm.assertEq(uint256(l.modelId), modelId);
        vm.assertEq(uint256(l.termsVersion), 1);
        vm.assertEq(uint256(l.stake), 12 ether);
        vm.assertEq(uint256(l.quota), 1_000_000);
        vm.assertEq(l.fingerprintRoot, bytes32(0));
        vm.assertEq(l.agreementHash, ag);
        vmx.assertEq(l.endpoint, ep);
        vm.assertEq(l.receiptSigner, OTHER_GATEWAY, "the gateway key receipts are checked against");
        vm.assertEq(address(licenses).balance, 22 ether);
    }

    /// @dev Without a receipt signer no UNPERMITTED_USE claim could ever be proven against the
    /// license: a host could serve keys with impunity.
    function test_RevertWhen_acquireLicense_zeroReceiptSigner() public {
        bytes32 th = termsHash();
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__ZeroReceiptSigner.selector));
        licenses.acquireLicense{value: 10 ether}(modelId, ENDPOINT, th, address(0));
    }

    function test_acquireLicense_takesCurrentTermsVersion() public {
        Terms memory t = copyTerms();
        t.quota = 42;
        vm.prank(admin);
        registry.updateTerms(modelId, t);
        uint256 id = acquire(host, 10 ether);
        LicenseManager.License memory l = licenses.getLicense(id);
        vm.assertEq(uint256(l.termsVersion), 2);
        vm.assertEq(uint256(l.quota), 42);
    }

    function test_RevertWhen_acquireLicense_termsChanged() public {
        bytes32 stale = termsHash();
        Terms memory t = copyTerms();
        t.pricePerQuery = 1;
        vm.prank(admin);
        registry.updateTerms(modelId, t);
        bytes32 current = keccak256(abi.encode(t));
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__TermsChanged.selector, stale, current));
        licenses.acquireLicense{value: 10 ether}(modelId, ENDPOINT, stale, gateway);
    }

    function test_RevertWhen_acquireLicense_insufficientStake() public {
        bytes32 th = termsHash();
        vm.prank(host);
        vm.expectRevert(
            abi.encodeWithSelector(LicenseManager.LicenseManager__InsufficientStake.selector, 10 ether, 10 ether - 1)
        );
        licenses.acquireLicense{value: 10 ether - 1}(modelId, ENDPOINT, th, gateway);
    }

    function test_RevertWhen_acquireLicense_emptyEndpoint() public {
        bytes32 th = termsHash();
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__BadEndpoint.selector));
        licenses.acquireLicense{value: 10 ether}(modelId, "", th, gateway);
    }

    function test_RevertWhen_acquireLicense_endpointTooLong() public {
        bytes32 th = termsHash();
        string memory ep = repeat("a", 257);
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__BadEndpoint.selector));
        licenses.acquireLicense{value: 10 ether}(modelId, ep, th, gateway);
    }

    function test_acquireLicense_maxEndpointAccepted() public {
        bytes32 th = termsHash();
        string memory ep = repeat("a", licenses.MAX_ENDPOINT_LENGTH());
        vm.prank(host);
        uint256 id = licenses.acquireLicense{value: 10 ether}(modelId, ep, th, gateway);
        vm.assertEq(bytes(licenses.getLicense(id).endpoint).length, 256);
    }

    function test_RevertWhen_acquireLicense_unknownModel() public {
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__UnknownModel.selector, 7));
        licenses.acquireLicense{value: 10 ether}(7, ENDPOINT, bytes32(0), gateway);
    }

    function testFuzz_acquireLicense_recordsStake(uint256 stake) public {
        stake = bound(stake, 10 ether, 500 ether);
        uint256 id = acquire(host, stake);
        vm.assertEq(uint256(licenses.getLicense(id).stake), stake);
        vm.assertEq(address(licenses).balance, 10 ether + stake);
    }

    // ----------------------------------------------------------------- addStake

    function test_addStake_increasesStake() public {
        vmx.expectEmit(address(licenses));
        emit LicenseManager.StakeAdded(licenseId, 2 ether, 12 ether);
        vm.prank(host);
        licenses.addStake{value: 2 ether}(licenseId);
        vm.assertEq(uint256(licenses.getLicense(licenseId).stake), 12 ether);
        vm.assertEq(address(licenses).balance, 12 ether);
    }

    function test_RevertWhen_addStake_notHost() public {
        vm.deal(other, 1 ether);
        vm.prank(other);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__NotHost.selector, licenseId, other));
        licenses.addStake{value: 1 ether}(licenseId);
    }

    function test_RevertWhen_addStake_zero() public {
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__ZeroValue.selector));
        licenses.addStake(licenseId);
    }

    function test_RevertWhen_addStake_exiting() public {
        vm.startPrank(host);
        licenses.requestExit(licenseId);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__NotActive.selector, licenseId));
        licenses.addStake{value: 1 ether}(licenseId);
        vm.stopPrank();
    }

    function test_RevertWhen_addStake_expired() public {
        (, uint256 expiresAt) = licenses.lifecycle(licenseId);
        vm.assertEq(expiresAt, START + terms.licensePeriod);
        vm.warp(expiresAt);
        vm.startPrank(host);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__Expired.selector, licenseId, expiresAt));
        licenses.addStake{value: 1 ether}(licenseId);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__Expired.selector, licenseId, expiresAt));
        licenses.setEndpoint(licenseId, "https://new.example");
        // an expired license can still exit: the stake stays slashable through unbonding
        licenses.requestExit(licenseId);
        vm.stopPrank();
        (LicenseStatus status,) = licenses.lifecycle(licenseId);
        vm.assertEq(uint256(status), uint256(LicenseStatus.Exiting));
    }

    function test_RevertWhen_addStake_unknownLicense() public {
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__UnknownLicense.selector, 9));
        licenses.addStake{value: 1 ether}(9);
    }

    // ------------------------------------------------- setFingerprintCommitment

    function test_setFingerprintCommitment_setsRootOnce() public {
        uint256 id = acquire(host, 10 ether);
        vmx.expectEmit(address(licenses));
        emit LicenseManager.FingerprintCommitmentSet(id, keccak256("root"), keccak256("w2"));
        vm.prank(admin);
        licenses.setFingerprintCommitment(id, keccak256("root"), keccak256("w2"));
        LicenseManager.License memory l = licenses.getLicense(id);
        vm.assertEq(l.fingerprintRoot, keccak256("root"));
        vm.assertEq(l.weightsHash, keccak256("w2"));
    }

    function test_RevertWhen_setFingerprintCommitment_notModelAdmin() public {
        uint256 id = acquire(host, 10 ether);
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__NotModelAdmin.selector, id, host));
        licenses.setFingerprintCommitment(id, keccak256("root"), bytes32(0));
    }

    function test_RevertWhen_setFingerprintCommitment_alreadySet() public {
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__CommitmentAlreadySet.selector, licenseId));
        licenses.setFingerprintCommitment(licenseId, keccak256("root"), bytes32(0));
    }

    function test_RevertWhen_setFingerprintCommitment_zeroRoot() public {
        uint256 id = acquire(host, 10 ether);
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__ZeroRoot.selector));
        licenses.setFingerprintCommitment(id, bytes32(0), keccak256("w"));
    }

    function test_RevertWhen_setFingerprintCommitment_notActive() public {
        uint256 id = acquire(host, 10 ether);
        vm.prank(host);
        licenses.requestExit(id);
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__NotActive.selector, id));
        licenses.setFingerprintCommitment(id, keccak256("root"), bytes32(0));
    }

    function test_RevertWhen_setFingerprintCommitment_unknownLicense() public {
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__UnknownLicense.selector, 5));
        licenses.setFingerprintCommitment(5, keccak256("root"), bytes32(0));
    }

    // -------------------------------------------------------------- setEndpoint

    function test_setEndpoint_updates() public {
        vmx.expectEmit(address(licenses));
        emit LicenseManager.EndpointUpdated(licenseId, "https://new.example");
        vm.prank(host);
        licenses.setEndpoint(licenseId, "https://new.example");
        vmx.assertEq(licenses.getLicense(licenseId).endpoint, "https://new.example");
        // The agreement on record is the one accepted at acquisition.
        vm.assertEq(
            licenses.getLicense(licenseId).agreementHash, expectedAgreement(modelId, host, termsHash(), ENDPOINT)
        );
    }

    function test_RevertWhen_setEndpoint_notHost() public {
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__NotHost.selector, licenseId, admin));
        licenses.setEndpoint(licenseId, "https://new.example");
    }

    function test_RevertWhen_setEndpoint_empty() public {
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__BadEndpoint.selector));
        licenses.setEndpoint(licenseId, "");
    }

    function test_RevertWhen_setEndpoint_tooLong() public {
        string memory ep = repeat("b", 257);
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__BadEndpoint.selector));
        licenses.setEndpoint(licenseId, ep);
    }

    function test_RevertWhen_setEndpoint_exiting() public {
        vm.startPrank(host);
        licenses.requestExit(licenseId);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__NotActive.selector, licenseId));
        licenses.setEndpoint(licenseId, "https://new.example");
        vm.stopPrank();
    }

    function test_RevertWhen_setEndpoint_unknownLicense() public {
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__UnknownLicense.selector, 3));
        licenses.setEndpoint(3, "https://new.example");
    }

    // -------------------------------------------------------------- requestExit

    function test_requestExit_startsUnbonding() public {
        uint256 at = block.timestamp + terms.unbondingPeriod;
        vmx.expectEmit(address(licenses));
        emit LicenseManager.ExitRequested(licenseId, at);
        vm.prank(host);
        licenses.requestExit(licenseId);
        LicenseManager.License memory l = licenses.getLicense(licenseId);
        vm.assertEq(uint256(l.status), uint256(LicenseStatus.Exiting));
        vm.assertEq(uint256(l.unbondAt), at);
        vm.assertEq(uint256(l.stake), 10 ether);
    }

    function test_requestExit_usesAcceptedTermsUnbonding() public {
        Terms memory t = copyTerms();
        t.unbondingPeriod = 60 days;
        vm.prank(admin);
        registry.updateTerms(modelId, t);
        vm.prank(host);
        licenses.requestExit(licenseId);
        vm.assertEq(uint256(licenses.getLicense(licenseId).unbondAt), block.timestamp + 7 days);
    }

    function test_RevertWhen_requestExit_notHost() public {
        vm.prank(other);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__NotHost.selector, licenseId, other));
        licenses.requestExit(licenseId);
    }

    function test_RevertWhen_requestExit_twice() public {
        vm.startPrank(host);
        licenses.requestExit(licenseId);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__NotActive.selector, licenseId));
        licenses.requestExit(licenseId);
        vm.stopPrank();
    }

    function test_RevertWhen_requestExit_unknownLicense() public {
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__UnknownLicense.selector, 0));
        licenses.requestExit(0);
    }

    // ----------------------------------------------------------------- withdraw

    function test_withdraw_paysStakeAfterUnbonding() public {
        exitAndWait(licenseId);
        uint256 before = host.balance;
        vmx.expectEmit(address(licenses));
        emit LicenseManager.StakeWithdrawn(licenseId, host, 10 ether);
        vm.prank(host);
        licenses.withdraw(licenseId);
        vm.assertEq(host.balance, before + 10 ether);
        vm.assertEq(address(licenses).balance, 0);
        LicenseManager.License memory l = licenses.getLicense(licenseId);
        vm.assertEq(uint256(l.status), uint256(LicenseStatus.Exited));
        vm.assertEq(uint256(l.stake), 0);
    }

    function test_RevertWhen_withdraw_stillUnbonding() public {
        vm.prank(host);
        licenses.requestExit(licenseId);
        uint256 at = block.timestamp + terms.unbondingPeriod;
        vm.warp(at - 1);
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__StillUnbonding.selector, licenseId, at));
        licenses.withdraw(licenseId);
    }

    function test_RevertWhen_withdraw_usageNotClosed() public {
        vm.prank(host);
        licenses.requestExit(licenseId);
        uint256 unbondAt = block.timestamp + terms.unbondingPeriod;
        uint256 fallbackAt = unbondAt + terms.unbondingPeriod;
        vm.warp(unbondAt);
        vm.prank(host);
        vm.expectRevert(
            abi.encodeWithSelector(LicenseManager.LicenseManager__UsageNotClosed.selector, licenseId, fallbackAt)
        );
        licenses.withdraw(licenseId);
        vm.warp(fallbackAt - 1);
        vm.prank(host);
        vm.expectRevert(
            abi.encodeWithSelector(LicenseManager.LicenseManager__UsageNotClosed.selector, licenseId, fallbackAt)
        );
        licenses.withdraw(licenseId);
    }

    /// @dev A permission service that is down, or will not close, delays the host; it cannot keep its stake.
    function test_withdraw_withoutClosureAfterASecondUnbonding() public {
        vm.prank(host);
        licenses.requestExit(licenseId);
        vm.warp(block.timestamp + 2 * uint256(terms.unbondingPeriod));
        uint256 before = host.balance;
        vm.prank(host);
        licenses.withdraw(licenseId);
        vm.assertEq(host.balance, before + 10 ether);
    }

    function test_RevertWhen_withdraw_claimOpen() public {
        openClaimOn(0);
        exitAndWait(licenseId);
        vm.warp(block.timestamp + 100 days);
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__ClaimOpen.selector, licenseId));
        licenses.withdraw(licenseId);
    }

    function test_withdraw_afterClaimRefuted() public {
        (uint256 cid, ClaimManager.ClaimRecord memory r) = openClaimOn(0);
        bytes memory sig = sigmaFor(r, 1);
        vm.prank(host);
        claims.refute(cid, r, 1, r.servedAt, sig);
        vm.assertEq(claims.openClaims(false, licenseId), 0);
        exitAndWait(licenseId);
        vm.prank(host);
        licenses.withdraw(licenseId);
        vm.assertEq(uint256(licenses.getLicense(licenseId).status), uint256(LicenseStatus.Exited));
    }

    function test_RevertWhen_withdraw_active() public {
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__NotExiting.selector, licenseId));
        licenses.withdraw(licenseId);
    }

    function test_RevertWhen_withdraw_twice() public {
        exitAndWait(licenseId);
        vm.startPrank(host);
        licenses.withdraw(licenseId);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__NotExiting.selector, licenseId));
        licenses.withdraw(licenseId);
        vm.stopPrank();
    }

    function test_RevertWhen_withdraw_notHost() public {
        exitAndWait(licenseId);
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__NotHost.selector, licenseId, admin));
        licenses.withdraw(licenseId);
    }

    function test_RevertWhen_withdraw_unknownLicense() public {
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__UnknownLicense.selector, 8));
        licenses.withdraw(8);
    }

    function test_RevertWhen_withdraw_hostRejectsEth() public {
        Actor a = new Actor();
        vm.deal(address(a), 10 ether);
        bytes32 th = termsHash();
        bytes memory call_ = abi.encodeCall(LicenseManager.acquireLicense, (modelId, ENDPOINT, th, gateway));
        uint256 id = abi.decode(a.exec(address(licenses), 10 ether, call_), (uint256));
        a.exec(address(licenses), 0, abi.encodeCall(LicenseManager.requestExit, (id)));
        closeUsage(id);
        vm.warp(block.timestamp + terms.unbondingPeriod);
        a.setReject(true);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__TransferFailed.selector));
        a.exec(address(licenses), 0, abi.encodeCall(LicenseManager.withdraw, (id)));
    }

    function testFuzz_withdraw_onlyAfterUnbondAt(uint256 wait) public {
        vm.prank(host);
        licenses.requestExit(licenseId);
        closeUsage(licenseId);
        uint256 at = block.timestamp + terms.unbondingPeriod;
        wait = bound(wait, 0, 2 * uint256(terms.unbondingPeriod));
        vm.warp(block.timestamp + wait);
        if (block.timestamp < at) {
            vm.expectRevert(
                abi.encodeWithSelector(LicenseManager.LicenseManager__StillUnbonding.selector, licenseId, at)
            );
        }
        vm.prank(host);
        licenses.withdraw(licenseId);
        vm.assertEq(address(licenses).balance, block.timestamp < at ? 10 ether : 0);
    }

    // -------------------------------------------------------------------- slash

    function test_slash_sendsToClaimManager() public {
        uint256 before = address(claims).balance;
        vmx.expectEmit(address(licenses));
        emit LicenseManager.StakeSlashed(licenseId, 4 ether, 6 ether);
        vm.prank(address(claims));
        uint256 slashed = licenses.slash(licenseId, 4 ether);
        vm.assertEq(slashed, 4 ether);
        vm.assertEq(address(claims).balance, before + 4 ether);
        vm.assertEq(uint256(licenses.getLicense(licenseId).stake), 6 ether);
        vm.assertEq(address(licenses).balance, 6 ether);
    }

    function test_slash_cappedAtStake() public {
        vmx.expectEmit(address(licenses));
        emit LicenseManager.StakeSlashed(licenseId, 10 ether, 0);
        vm.prank(address(claims));
        vm.assertEq(licenses.slash(licenseId, 25 ether), 10 ether);
        vm.prank(address(claims));
        vm.assertEq(licenses.slash(licenseId, 1 ether), 0);
    }

    function test_slash_whileExiting() public {
        vm.prank(host);
        licenses.requestExit(licenseId);
        vm.prank(address(claims));
        vm.assertEq(licenses.slash(licenseId, 3 ether), 3 ether);
        vm.assertEq(uint256(licenses.getLicense(licenseId).stake), 7 ether);
    }

    function test_RevertWhen_slash_notClaimManager() public {
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__NotClaimManager.selector, admin));
        licenses.slash(licenseId, 1 ether);
    }

    function test_slash_unknownLicenseTakesNothing() public {
        // slash skips the existence check (the ClaimManager only slashes licenses it has a claim
        // on); a license that does not exist has no stake, so nothing moves.
        uint256 before = address(licenses).balance;
        vm.prank(address(claims));
        uint256 slashed = licenses.slash(4, 1 ether);
        vm.assertEq(slashed, 0);
        vm.assertEq(address(licenses).balance, before);
    }

    function test_RevertWhen_slash_claimManagerRejectsEth() public {
        ClaimManagerStub stub = new ClaimManagerStub();
        LicenseManager lm = new LicenseManager(IModelRegistry(address(registry)), address(stub), address(usage));
        bytes32 th = termsHash();
        vm.prank(host);
        uint256 id = lm.acquireLicense{value: 10 ether}(modelId, ENDPOINT, th, gateway);
        vm.prank(address(stub));
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__TransferFailed.selector));
        lm.slash(id, 1 ether);
    }

    function testFuzz_slash_neverMoreThanStake(uint256 stake, uint256 a, uint256 b) public {
        stake = bound(stake, 10 ether, 100 ether);
        a = bound(a, 0, 200 ether);
        b = bound(b, 0, 200 ether);
        uint256 id = acquire(host, stake);
        vm.startPrank(address(claims));
        uint256 first = licenses.slash(id, a);
        uint256 second = licenses.slash(id, b);
        vm.stopPrank();
        vm.assertEq(first, a < stake ? a : stake);
        vm.assertEq(second, b < stake - first ? b : stake - first);
        vm.assertEq(uint256(licenses.getLicense(id).stake), stake - first - second);
        vm.assertEq(address(licenses).balance, 10 ether + stake - first - second);
    }

    // -------------------------------------------------------------- collectFees

    function test_collectFees_sendsToUsageSettlement() public {
        uint256 before = address(usage).balance;
        vmx.expectEmit(address(licenses));
        emit LicenseManager.FeesCollected(licenseId, 3 ether, 7 ether);
        vm.prank(address(usage));
        uint256 collected = licenses.collectFees(licenseId, 3 ether);
        vm.assertEq(collected, 3 ether);
        vm.assertEq(address(usage).balance, before + 3 ether);
        vm.assertEq(uint256(licenses.getLicense(licenseId).stake), 7 ether);
        vm.assertEq(address(licenses).balance, 7 ether);
    }

    function test_collectFees_cappedAtStake() public {
        vmx.expectEmit(address(licenses));
        emit LicenseManager.FeesCollected(licenseId, 10 ether, 0);
        vm.prank(address(usage));
        vm.assertEq(licenses.collectFees(licenseId, 25 ether), 10 ether);
        // Nothing left: nothing moves, and the call still succeeds (settle never reverts for it).
        vmx.expectEmit(address(licenses));
        emit LicenseManager.FeesCollected(licenseId, 0, 0);
        vm.prank(address(usage));
        vm.assertEq(licenses.collectFees(licenseId, 1 ether), 0);
        vm.assertEq(address(licenses).balance, 0);
    }

    function test_collectFees_whileExitingAndAfterWithdrawal() public {
        uint256 unbondAt = exitAndWait(licenseId);
        vm.warp(unbondAt - 1);
        vm.prank(address(usage));
        vm.assertEq(licenses.collectFees(licenseId, 2 ether), 2 ether);
        vm.warp(unbondAt);
        vm.prank(host);
        licenses.withdraw(licenseId);
        vm.prank(address(usage));
        vm.assertEq(licenses.collectFees(licenseId, 2 ether), 0, "an exited license has no stake left");
    }

    /// @dev Fees come before claims: collecting under a pending slash leaves the claim what is left.
    function test_collectFees_beforePendingSlash() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openClaimOn(0);
        vm.assertEq(claims.pendingSlash(false, licenseId), 5 ether);
        vm.prank(address(usage));
        vm.assertEq(licenses.collectFees(licenseId, 8 ether), 8 ether);
        vm.warp(r.deadline);
        claims.execute(id, r);
        vm.assertEq(uint256(licenses.getLicense(licenseId).stake), 0, "the claim took the 2 ether left");
    }

    function test_RevertWhen_collectFees_notUsageSettlement() public {
        address[3] memory callers = [admin, host, address(claims)];
        for (uint256 i; i < 3; ++i) {
            vm.prank(callers[i]);
            vm.expectRevert(
                abi.encodeWithSelector(LicenseManager.LicenseManager__NotUsageSettlement.selector, callers[i])
            );
            licenses.collectFees(licenseId, 1 ether);
        }
    }

    function test_RevertWhen_collectFees_usageSettlementRejectsEth() public {
        ClaimManagerStub stub = new ClaimManagerStub(); // no receive(): refuses ETH
        LicenseManager lm = new LicenseManager(IModelRegistry(address(registry)), address(claims), address(stub));
        bytes32 th = termsHash();
        vm.prank(host);
        uint256 id = lm.acquireLicense{value: 10 ether}(modelId, ENDPOINT, th, gateway);
        vm.prank(address(stub));
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__TransferFailed.selector));
        lm.collectFees(id, 1 ether);
    }

    function testFuzz_collectFees_neverMoreThanStake(uint256 stake, uint256 a, uint256 b) public {
        stake = bound(stake, 10 ether, 100 ether);
        a = bound(a, 0, 200 ether);
        b = bound(b, 0, 200 ether);
        uint256 id = acquire(host, stake);
        vm.prank(address(usage));
        uint256 first = licenses.collectFees(id, a);
        vm.prank(address(claims));
        uint256 second = licenses.slash(id, b);
        vm.assertEq(first, a < stake ? a : stake);
        vm.assertEq(second, b < stake - first ? b : stake - first);
        vm.assertEq(uint256(licenses.getLicense(id).stake), stake - first - second);
        vm.assertEq(address(licenses).balance, 10 ether + stake - first - second);
    }

    // ------------------------------------------------------------------- views

    function test_agreementHash_isEip712Digest() public view {
        bytes32 th = termsHash();
        vm.assertEq(licenses.agreementHash(modelId, host, th, ENDPOINT), expectedAgreement(modelId, host, th, ENDPOINT));
        vm.assertEq(licenses.getLicense(licenseId).agreementHash, expectedAgreement(modelId, host, th, ENDPOINT));
        vmx.assertNotEq(
            licenses.agreementHash(modelId, host, th, "https://x"), licenses.agreementHash(modelId, host, th, ENDPOINT)
        );
    }

    function test_LICENSE_AGREEMENT_TYPEHASH_matchesSpec() public view {
        vm.assertEq(
            licenses.LICENSE_AGREEMENT_TYPEHASH(),
            keccak256("LicenseAgreement(uint256 modelId,address host,bytes32 termsHash,bytes32 endpointHash)")
        );
        vm.assertEq(licenses.MAX_ENDPOINT_LENGTH(), 256);
    }

    function test_domainSeparator_boundToContractAndChain() public {
        vm.assertEq(licenses.domainSeparator(), domainOf(address(licenses)));
        bytes32 before = licenses.domainSeparator();
        vm.chainId(999);
        vm.assertEq(licenses.domainSeparator(), domainOf(address(licenses)));
        vmx.assertNotEq(licenses.domainSeparator(), before);
    }

    function test_claimInfo_activeLicense() public view {
        (uint256 m, uint32 v, uint256 stake, bytes32 root, address h, uint256 expiresAt, address rs) =
            licenses.claimInfo(licenseId);
        vm.assertEq(m, modelId);
        vm.assertEq(uint256(v), 1);
        vm.assertEq(stake, 10 ether);
        vm.assertEq(root, fingerprintRoot);
        vm.assertEq(h, host);
        // A claim derives the license's start from the expiry and the terms' period.
        vm.assertEq(expiresAt, START + 365 days);
        vm.assertEq(expiresAt - terms.licensePeriod, licenseStart(licenseId));
        vm.assertEq(rs, gateway);
    }

    function test_claimInfo_exitingLicense() public {
        vm.prank(host);
        licenses.requestExit(licenseId);
        (,, uint256 stake,,,, address rs) = licenses.claimInfo(licenseId);
        vm.assertEq(rs, gateway, "the receipt signer outlives the exit request");
        vm.assertEq(stake, 10 ether);
    }

    function test_RevertWhen_claimInfo_exited() public {
        exitAndWait(licenseId);
        vm.prank(host);
        licenses.withdraw(licenseId);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__NotSlashable.selector, licenseId));
        licenses.claimInfo(licenseId);
    }

    function test_RevertWhen_claimInfo_unknown() public {
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__NotSlashable.selector, 6));
        licenses.claimInfo(6);
    }

    function test_usageInfo_returnsUsageFields() public {
        (uint256 m, uint64 quota, LicenseStatus st, address h) = licenses.usageInfo(licenseId);
        vm.assertEq(m, modelId);
        vm.assertEq(uint256(quota), 1_000_000);
        vm.assertEq(uint256(st), uint256(LicenseStatus.Active));
        vm.assertEq(h, host);
        vm.prank(host);
        licenses.requestExit(licenseId);
        (,, st,) = licenses.usageInfo(licenseId);
        vm.assertEq(uint256(st), uint256(LicenseStatus.Exiting));
    }

    function test_RevertWhen_usageInfo_unknown() public {
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__UnknownLicense.selector, 2));
        licenses.usageInfo(2);
    }

    function test_getLicense_fixtureLicense() public view {
        LicenseManager.License memory l = licenses.getLicense(licenseId);
        vm.assertEq(l.host, host);
        vm.assertEq(uint256(l.expiresAt), START + 365 days);
        vm.assertEq(l.fingerprintRoot, fingerprintRoot);
        vm.assertEq(l.weightsHash, keccak256("weights"));
        vmx.assertEq(l.endpoint, ENDPOINT);
        vm.assertEq(l.receiptSigner, gateway);
    }

    function test_RevertWhen_getLicense_unknown() public {
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__UnknownLicense.selector, 2));
        licenses.getLicense(2);
    }

    function test_licenseCount_counts() public {
        vm.assertEq(licenses.licenseCount(), 1);
        acquire(host, 10 ether);
        acquire(host, 11 ether);
        vm.assertEq(licenses.licenseCount(), 3);
    }

    function test_wiring_fixture() public view {
        vm.assertEq(licenses.wiring(), address(registry));
        vm.assertEq(licenses.claimManager(), address(claims));
        vm.assertEq(licenses.usageSettlement(), address(usage));
    }
}
