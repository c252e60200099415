// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

import {Blacklist} from "./Blacklist.sol";
import {ConsentRegistry} from "./ConsentRegistry.sol";
import {IConsortium} from "./IConsortium.sol";
import {IDisputes} from "./IDisputes.sol";
import {RecordRegistry} from "./RecordRegistry.sol";

/// @title Disputes
/// @notice Borrowers' objections (异议) to a record commitment or a blacklist entry, with a
///         deadline the chain keeps. The borrower signs (EIP-712, an address bound to the
///         subject in the ConsentRegistry) and any active member relays, or a member files on
///         the borrower's behalf; the target is disputed at once, through the RecordRegistry's
///         guarded `setStatus` or the Blacklist's `setDisputed`. The member that holds the
///         target answers before `deadline`; from the deadline on only a regulator rules.
/// @dev An objection's states:
///
///      | from | to                              | who                                      |
///      | ---- | ------------------------------- | ---------------------------------------- |
///      | Open | Upheld, Rejected or Unresolved  | the holder while active, before deadline |
///      | Open | Upheld, Rejected or Unresolved  | a regulator, from the deadline on        |
///
///      Upheld: the holder corrected the target first (a record superseded by its corrected
///      version, revoked, or expired meanwhile; an entry delisted); a regulator's upheld
///      ruling revokes a record still disputed, and needs an entry delisted first (a
///      regulator may delist). A record's status is read with `statusAt`, so a leaf marked
///      in its batch's expiry bitmap counts as Expired; an objection against an expired
///      record is refused when filed (the registry's `InvalidStatusChange`).
///      Rejected: the record is Active again, the entry no longer disputed.
///      Unresolved: as rejected, and the record carries the borrower's statement (the
///      objection's reasons hash, `StatementAttached`), shown beside it wherever it is shown.
///      One objection at a time is open per target. Reasons and answers are hashes only.
contract Disputes is IDisputes {
    bytes32 public constant DOMAIN_TYPEHASH = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    );
    bytes32 public constant OBJECTION_TYPEHASH = keccak256(
        "Objection(bytes32 subjectKey,uint8 kind,bytes32 target,bytes32 reasonsHash,"
        "uint256 nonce)"
    );
    bytes32 private constant NAME_HASH = keccak256("creditchain");
    bytes32 private constant VERSION_HASH = keccak256("1");
    /// @dev secp256k1's group order halved: a larger `s` is the malleable twin of a signature.
    uint256 private constant HALF_ORDER =
        0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    /// @notice The consortium asked for membership, roles and its registered contracts.
    IConsortium public immutable consortium;

    /// @notice Seconds from an objection's block to its deadline (20 days: 1728000).
    uint64 public immutable answerPeriod;

    uint256 private _count;
    mapping(uint256 id => Objection) private _objections;
    mapping(bytes32 targetKey => uint256 id) private _openOn;
    mapping(bytes32 digest => bool) private _usedSignatures;

    modifier onlyActiveMember() {
        if (!consortium.isActiveMember(msg.sender)) revert NotActiveMember(msg.sender);
        _;
    }

    /// @notice Creates the disputes contract of one consortium.
    /// @param consortium_ The `Consortium` contract asked for members, roles and contracts.
    /// @param answerPeriod_ Seconds the holder has to answer (20 days: 1728000).
    constructor(IConsortium consortium_, uint64 answerPeriod_) {
        if (address(consortium_).code.length == 0) revert NotAContract(address(consortium_));
        if (answerPeriod_ == 0) revert InvalidPeriod();
        consortium = consortium_;
        answerPeriod = answerPeriod_;
    }

    // -- filing ----------------------------------------------------------------------------

    /// @notice Files an objection the borrower signed; relayed by any active member.
    /// @param req The signed message.
    /// @param at Where the record was anchored (ignored for a blacklist entry).
    /// @param signature The borrower's 65-byte signature (r, s, v) of its EIP-712 digest.
    /// @return id The new objection's id; ids count up from 1.
    function fileSigned(
        Request calldata req,
        Anchor calldata at,
        bytes calldata signature
    ) external onlyActiveMember returns (uint256 id) {
        bytes32 digest = objectionDigest(req);
        address borrower = _recover(digest, signature);
        (bytes32 bound, ) = _bindings().bindingOf(borrower);
        if (req.subjectKey == bytes32(0) || bound != req.subjectKey) {
            revert UnboundSigner(borrower, req.subjectKey);
        }
        if (_usedSignatures[digest]) revert SignatureUsed(digest);
        _usedSignatures[digest] = true;
        id = _file(req, at, borrower);
    }

    /// @notice Files an objection on the borrower's behalf, by an active member.
    /// @param req The objection (its nonce is not used).
    /// @param at Where the record was anchored (ignored for a blacklist entry).
    /// @return id The new objection's id.
    function fileFor(
        Request calldata req,
        Anchor calldata at
    ) external onlyActiveMember returns (uint256 id) {
        id = _file(req, at, address(0));
    }

    // -- answering -------------------------------------------------------------------------

    /// @notice The holder's answer to objection `id`, before its deadline.
    /// @param id The objection.
    /// @param outcome Upheld, Rejected or Unresolved.
    /// @param reasonHash The hash of the answer's reasons.
    /// @param proof The record's inclusion proof again (empty for a blacklist entry).
    function answer(
        uint256 id,
        State outcome,
        bytes32 reasonHash,
        bytes32[] calldata proof
    ) external onlyActiveMember {
        Objection storage o = _open(id);
        if (o.holder != msg.sender) revert NotHolder(msg.sender, id);
        if (block.timestamp >= o.deadline) revert DeadlinePassed(id, o.deadline);
        _close(id, o, outcome, proof, false);

        emit ObjectionAnswered(
            id, o.subjectKey, o.holder, outcome, reasonHash, uint64(block.timestamp), o.deadline
        );
    }

    /// @notice A regulator's ruling on objection `id`, left unanswered at its deadline.
    /// @param id The objection.
    /// @param outcome Upheld, Rejected or Unresolved.
    /// @param reasonHash The hash of the ruling's reasons.
    /// @param proof The record's inclusion proof again (empty for a blacklist entry).
    function rule(
        uint256 id,
        State outcome,
        bytes32 reasonHash,
        bytes32[] calldata proof
    ) external {
        if (!consortium.isRegulator(msg.sender)) revert NotRegulator(msg.sender);
        Objection storage o = _open(id);
        if (block.timestamp < o.deadline) revert DeadlineNotReached(id, o.deadline);
        _close(id, o, outcome, proof, true);

        emit ObjectionRuled(
            id,
            o.subjectKey,
            msg.sender,
            o.holder,
            outcome,
            reasonHash,
            uint64(block.timestamp),
            o.deadline
        );
    }

    // -- views -----------------------------------------------------------------------------

    /// @notice Objection `id`; all zero (state None) if unknown.
    /// @param id The objection id.
    /// @return The stored objection.
    function getObjection(uint256 id) external view returns (Objection memory) {
        return _objections[id];
    }

    /// @notice The open objection against `target` of `kind`, 0 if none.
    /// @param kind Record or BlacklistEntry.
    /// @param target The commitment, or the entry id as bytes32.
    /// @return The objection id.
    function openObjectionOn(TargetKind kind, bytes32 target) external view returns (uint256) {
        return _openOn[_targetKey(kind, target)];
    }

    /// @notice The number of objections, which is also the latest id.
    /// @return The count.
    function objectionCount() external view returns (uint256) {
        return _count;
    }

    /// @notice The EIP-712 domain separator: "creditchain", "1", this chain, this contract.
    /// @return The separator.
    function domainSeparator() public view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this))
        );
    }

    /// @notice The EIP-712 digest of objection `req`, which its borrower signs.
    /// @param req The message.
    /// @return The digest.
    function objectionDigest(Request calldata req) public view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                OBJECTION_TYPEHASH,
                req.subjectKey,
                uint8(req.kind),
                req.target,
                req.reasonsHash,
                req.nonce
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    // -- internals -------------------------------------------------------------------------

    function _file(
        Request calldata req,
        Anchor calldata at,
        address borrower
    ) private returns (uint256 id) {
        if (req.subjectKey == bytes32(0)) revert ZeroSubject();
        if (req.reasonsHash == bytes32(0)) revert ZeroReasons();
        bytes32 key = _targetKey(req.kind, req.target);
        uint256 open = _openOn[key];
        if (open != 0) revert AlreadyObjected(open);

        id = ++_count;
        address holder;
        bool isRecord = req.kind == TargetKind.Record;
        if (isRecord) {
            (holder, , , , ) = _registry().getBatch(at.batchId);
        } else {
            holder = _checkEntry(req.subjectKey, uint256(req.target));
        }
        uint64 deadline = uint64(block.timestamp) + answerPeriod;
        _objections[id] = Objection({
            subjectKey: req.subjectKey,
            target: req.target,
            reasonsHash: req.reasonsHash,
            holder: holder,
            filedAt: uint64(block.timestamp),
            kind: req.kind,
            state: State.Open,
            byRegulator: false,
            deadline: deadline,
            closedAt: 0,
            batchId: isRecord ? uint64(at.batchId) : 0,
            leafIndex: isRecord ? at.leafIndex : 0
        });
        _openOn[key] = id;

        if (isRecord) {
            _registry().setStatus(
                req.target, at.batchId, at.leafIndex, at.proof, RecordRegistry.RecordStatus.Disputed
            );
        } else {
            _blacklist().setDisputed(uint256(req.target), true);
        }

        _emitFiled(id, borrower);
    }

    /// @dev From storage: `_file` has no stack slots left for the event's twelve fields.
    function _emitFiled(uint256 id, address borrower) private {
        Objection storage o = _objections[id];
        emit ObjectionFiled(
            id,
            o.subjectKey,
            o.holder,
            o.kind,
            o.target,
            o.reasonsHash,
            msg.sender,
            borrower,
            o.filedAt,
            o.deadline,
            o.batchId,
            o.leafIndex
        );
    }

    function _checkEntry(bytes32 subjectKey, uint256 entryId) private view returns (address) {
        Blacklist blacklist = _blacklist();
        if (!blacklist.isActive(entryId)) revert EntryNotActive(entryId);
        (bytes32 entrySubject, address lister, , , , , , , ) = blacklist.getEntry(entryId);
        if (entrySubject != subjectKey) revert SubjectMismatch(entryId, subjectKey);
        return lister;
    }

    /// @dev Checks the outcome against the target, then closes: state, the open mark, the
    ///      target's status, and the statement of an unresolved objection.
    function _close(
        uint256 id,
        Objection storage o,
        State outcome,
        bytes32[] calldata proof,
        bool byRegulator
    ) private {
        if (outcome != State.Upheld && outcome != State.Rejected && outcome != State.Unresolved) {
            revert InvalidOutcome(outcome);
        }
        o.state = outcome;
        o.byRegulator = byRegulator;
        o.closedAt = uint64(block.timestamp);
        delete _openOn[_targetKey(o.kind, o.target)];

        if (o.kind == TargetKind.Record) {
            _settleRecord(id, o, outcome, proof, byRegulator);
        } else {
            Blacklist blacklist = _blacklist();
            uint256 entryId = uint256(o.target);
            if (outcome == State.Upheld && blacklist.isActive(entryId)) revert NotCorrected(id);
            blacklist.setDisputed(entryId, false);
        }
        if (outcome == State.Unresolved) {
            emit StatementAttached(id, o.target, o.kind, o.reasonsHash);
        }
    }

    function _settleRecord(
        uint256 id,
        Objection storage o,
        State outcome,
        bytes32[] calldata proof,
        bool byRegulator
    ) private {
        RecordRegistry registry = _registry();
        // with the leaf's expiry bit folded in: a record expired meanwhile is out of use
        RecordRegistry.RecordStatus current = registry.statusAt(
            o.target, o.batchId, o.leafIndex, proof
        );
        bool disputed = current == RecordRegistry.RecordStatus.Disputed;
        if (outcome == State.Upheld) {
            if (disputed && byRegulator) {
                registry.setStatus(
                    o.target, o.batchId, o.leafIndex, proof, RecordRegistry.RecordStatus.Revoked
                );
            } else if (
                current != RecordRegistry.RecordStatus.Superseded &&
                current != RecordRegistry.RecordStatus.Revoked &&
                current != RecordRegistry.RecordStatus.Expired
            ) {
                revert NotCorrected(id);
            }
        } else if (disputed) {
            registry.setStatus(
                o.target, o.batchId, o.leafIndex, proof, RecordRegistry.RecordStatus.Active
            );
        }
    }

    function _open(uint256 id) private view returns (Objection storage o) {
        o = _objections[id];
        if (o.state == State.None) revert UnknownObjection(id);
        if (o.state != State.Open) revert NotOpen(id, o.state);
    }

    function _targetKey(TargetKind kind, bytes32 target) private pure returns (bytes32) {
        return keccak256(abi.encode(kind, target));
    }

    function _registry() private view returns (RecordRegistry) {
        return RecordRegistry(consortium.contractAddress("RecordRegistry"));
    }

    function _blacklist() private view returns (Blacklist) {
        return Blacklist(consortium.contractAddress("Blacklist"));
    }

    function _bindings() private view returns (ConsentRegistry) {
        return ConsentRegistry(consortium.contractAddress("ConsentRegistry"));
    }

    function _recover(bytes32 digest, bytes calldata signature) private pure returns (address) {
        if (signature.length != 65) revert InvalidSignature();
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (v < 27) v += 27;
        if (uint256(s) > HALF_ORDER || (v != 27 && v != 28)) revert InvalidSignature();
        address signer = ecrecover(digest, v, r, s);
        if (signer == address(0)) revert InvalidSignature();
        return signer;
    }
}
