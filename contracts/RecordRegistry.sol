// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

import {IConsortium} from "./IConsortium.sol";

/// @title RecordRegistry
/// @notice Anchors members' batches of credit-record commitments as RFC 9162 Merkle roots and
///         keeps the status of each commitment. Raw records stay with the member; a receipt
///         (record, salt, proof, batch id) is checked against `getBatch` alone.
/// @dev Each member's batches form a hash chain: a batch names the root of the member's
///      previous batch, so a dropped batch is detectable and a re-sent one reverts.
///      A commitment's status changes only for a commitment proven to be in a batch, and only
///      along these steps:
///
///      | from               | to         | who                                             |
///      | ------------------ | ---------- | ----------------------------------------------- |
///      | Active or Disputed | Superseded | the anchoring member (`supersede`)              |
///      | Active             | Disputed   | a consortium contract                           |
///      | Disputed           | Active     | a consortium contract (objection rejected)      |
///      | Active or Disputed | Revoked    | a consortium contract or the anchoring member   |
///      | Active or Disputed | Expired    | a consortium contract or the anchoring member   |
///
///      A consortium contract is one the `Consortium` registered by name (`contractName`);
///      the anchoring member must be active. Superseded, Revoked and Expired are final.
///      Superseding a disputed commitment is how a member corrects a record whose objection
///      it upholds: the corrected version is anchored, the disputed one superseded.
///      `setStatuses` makes up to `MAX_STATUS_MARKS` changes to one status in one call, each
///      checked as `setStatus` checks it, skipping (not reverting on) a step the table lacks.
///
///      Expiry has a cheaper path, `expireLeaves`: the anchoring member sets one bit a leaf in
///      its batch's bitmap, keyed by (batch id, leaf index), with no proof and no storage per
///      commitment. An Active or Disputed commitment whose leaf bit is set is Expired: every
///      step above judges the current status with the bit folded in, and `statusAt` returns
///      it. `statusOf` reads the per-commitment status alone and does not know these bits.
contract RecordRegistry {
    /// @notice The status of one commitment. An anchored commitment with no recorded change is
    ///         `Active` (the default), so `statusOf` alone does not prove a commitment was
    ///         anchored: an inclusion proof does.
    enum RecordStatus {
        Active,
        Superseded,
        Disputed,
        Revoked,
        Expired
    }

    /// @dev Three storage slots: (member, size), root, (prevBatchId, blockNumber, anchoredAt).
    ///      The previous root is read through `prevBatchId`, which saves a slot per batch.
    struct Batch {
        address member;
        uint64 size;
        bytes32 root;
        uint64 prevBatchId;
        uint64 blockNumber;
        uint64 anchoredAt;
    }

    /// @notice One commitment of `setStatuses`, with where it was anchored and its proof.
    struct StatusMark {
        bytes32 commitment;
        uint256 batchId;
        uint64 leafIndex;
        bytes32[] proof;
    }

    /// @notice The most marks `setStatuses` takes in one call (about 51,000 gas each with a
    ///         proof of a 20,000-leaf batch: a full call takes some 5.1 million gas).
    uint256 public constant MAX_STATUS_MARKS = 100;

    /// @notice The most bitmap words `expireLeaves` takes in one call (256 leaves a word; a
    ///         full call of fresh words takes some 3.5 million gas).
    uint256 public constant MAX_EXPIRY_WORDS = 128;

    /// @notice The longest inclusion proof accepted: a tree of at most 2^64 leaves.
    uint256 public constant MAX_PROOF_LENGTH = 64;

    /// @notice The consortium asked for membership and for its registered contracts.
    IConsortium public immutable consortium;

    uint256 private _batchCount;
    mapping(uint256 batchId => Batch) private _batches;
    mapping(bytes32 root => uint256 batchId) private _batchOfRoot;
    mapping(address member => uint256 batchId) private _lastBatchOf;
    mapping(bytes32 commitment => RecordStatus) private _statusOf;
    mapping(uint256 batchId => mapping(uint256 word => uint256 bits)) private _expiredLeaves;

    /// @notice `member` anchored batch `batchId`: `size` commitments under Merkle root `root`,
    ///         chained to the member's previous root `prevRoot` (zero for its first batch).
    event BatchAnchored(
        uint256 indexed batchId,
        address indexed member,
        bytes32 indexed root,
        uint64 size,
        bytes32 prevRoot
    );

    /// @notice `by` changed the status of `commitment`, anchored by `member`, from `previous`
    ///         to `status`; `replacement` is the commitment that replaces it (zero if none).
    event RecordStatusChanged(
        bytes32 indexed commitment,
        address indexed member,
        address indexed by,
        RecordStatus previous,
        RecordStatus status,
        bytes32 replacement
    );

    /// @notice `member` marked leaves of batch `batchId` expired: bit i of `bits` is leaf
    ///         `word * 256 + i`. Only bits not set before are in `bits`.
    event LeavesExpired(
        uint256 indexed batchId,
        address indexed member,
        uint256 word,
        uint256 bits
    );

    /// @notice `who` is not an active member of the consortium.
    error NotActiveMember(address who);
    /// @notice A batch must hold at least one commitment.
    error EmptyBatch();
    /// @notice A Merkle root cannot be zero.
    error ZeroRoot();
    /// @notice The sender's last anchored root is `expected`, not `given`.
    error PrevRootMismatch(bytes32 expected, bytes32 given);
    /// @notice `root` is already anchored as batch `batchId`.
    error RootAlreadyAnchored(bytes32 root, uint256 batchId);
    /// @notice No batch has id `batchId`.
    error UnknownBatch(uint256 batchId);
    /// @notice `who` did not anchor batch `batchId`.
    error NotBatchOwner(address who, uint256 batchId);
    /// @notice The proof does not show `commitment` in batch `batchId`.
    error InvalidProof(bytes32 commitment, uint256 batchId);
    /// @notice `commitment` has status `status`, neither `Active` nor `Disputed`.
    error StatusNotActive(bytes32 commitment, RecordStatus status);
    /// @notice The consortium address has no contract code.
    error NotAContract(address account);
    /// @notice `who` may not set a commitment's status to `status` (see the table above).
    error StatusNotAllowed(address who, RecordStatus status);
    /// @notice `commitment` cannot go from `current` to `status` (see the table above).
    error InvalidStatusChange(bytes32 commitment, RecordStatus current, RecordStatus status);
    /// @notice `setStatuses` takes at most `max` marks, not `given`.
    error TooManyMarks(uint256 given, uint256 max);
    /// @notice `expireLeaves` takes at most `max` words, not `given`.
    error TooManyWords(uint256 given, uint256 max);
    /// @notice `expireLeaves` needs one bits value per word: `words` and `bits` lengths differ.
    error WordsBitsMismatch(uint256 words, uint256 bits);
    /// @notice Word `word`'s `bits` name a leaf past the end of batch `batchId` (`size` leaves).
    error LeafOutOfRange(uint256 batchId, uint256 word, uint256 bits, uint64 size);

    modifier onlyActiveMember() {
        if (!consortium.isActiveMember(msg.sender)) revert NotActiveMember(msg.sender);
        _;
    }

    /// @notice Creates the registry of one consortium.
    /// @param consortium_ The `Consortium` contract that says who is an active member.
    constructor(IConsortium consortium_) {
        if (address(consortium_).code.length == 0) revert NotAContract(address(consortium_));
        consortium = consortium_;
    }

    /// @notice Anchors a batch of the sender's commitments under one Merkle root.
    /// @dev Reverts `RootAlreadyAnchored` before `PrevRootMismatch`, so that a node re-sending
    ///      a batch that already landed learns its batch id from the error.
    /// @param root The RFC 9162 Merkle tree head of the batch's commitments.
    /// @param size The number of commitments (leaves) in the tree.
    /// @param prevRoot The root of the sender's previous batch, zero for its first.
    /// @return batchId The new batch's id; ids count up from 1 across all members.
    function anchorBatch(
        bytes32 root,
        uint64 size,
        bytes32 prevRoot
    ) external onlyActiveMember returns (uint256 batchId) {
        if (size == 0) revert EmptyBatch();
        if (root == bytes32(0)) revert ZeroRoot();
        uint256 existing = _batchOfRoot[root];
        if (existing != 0) revert RootAlreadyAnchored(root, existing);
        uint256 prevBatchId = _lastBatchOf[msg.sender];
        bytes32 expected = _batches[prevBatchId].root;
        if (prevRoot != expected) revert PrevRootMismatch(expected, prevRoot);

        batchId = ++_batchCount;
        _batches[batchId] = Batch({
            member: msg.sender,
            size: size,
            root: root,
            prevBatchId: uint64(prevBatchId),
            blockNumber: uint64(block.number),
            anchoredAt: uint64(block.timestamp)
        });
        _batchOfRoot[root] = batchId;
        _lastBatchOf[msg.sender] = batchId;

        emit BatchAnchored(batchId, msg.sender, root, size, prevRoot);
    }

    /// @notice Marks one of the sender's anchored commitments, active or disputed, as
    ///         superseded by a correction.
    /// @param oldCommitment The commitment being replaced.
    /// @param batchId The batch that anchored `oldCommitment`; the sender must own it.
    /// @param leafIndex The position of `oldCommitment` in that batch's tree.
    /// @param proof The RFC 9162 inclusion proof, sibling hashes from leaf to root.
    /// @param newCommitment The commitment of the corrected record (informational).
    function supersede(
        bytes32 oldCommitment,
        uint256 batchId,
        uint64 leafIndex,
        bytes32[] calldata proof,
        bytes32 newCommitment
    ) external onlyActiveMember {
        Batch storage batch = _existingBatch(batchId);
        if (batch.member != msg.sender) revert NotBatchOwner(msg.sender, batchId);
        if (!verifyInclusion(oldCommitment, leafIndex, batch.size, proof, batch.root)) {
            revert InvalidProof(oldCommitment, batchId);
        }
        RecordStatus current = _folded(_statusOf[oldCommitment], batchId, leafIndex);
        if (current != RecordStatus.Active && current != RecordStatus.Disputed) {
            revert StatusNotActive(oldCommitment, current);
        }
        _changeStatus(oldCommitment, batch.member, current, RecordStatus.Superseded, newCommitment);
    }

    /// @notice Sets the status of an anchored commitment: Disputed, Active again (an
    ///         objection rejected), Revoked or Expired, as the table above allows. A consortium
    ///         contract (e.g. the disputes contract) may make every one of these changes; the
    ///         anchoring member, while active, may revoke or expire its own commitments.
    /// @dev Reverts `NotActiveMember` for a caller that is neither a consortium contract nor
    ///      an active member, `NotBatchOwner` for a member that did not anchor the batch,
    ///      `StatusNotAllowed` for a change the caller may not make, `InvalidProof`, and
    ///      `InvalidStatusChange` for a step the table does not have.
    /// @param commitment The commitment whose status changes.
    /// @param batchId The batch that anchored `commitment`.
    /// @param leafIndex The position of `commitment` in that batch's tree.
    /// @param proof The RFC 9162 inclusion proof, sibling hashes from leaf to root.
    /// @param status The new status; never `Superseded`, which `supersede` sets.
    function setStatus(
        bytes32 commitment,
        uint256 batchId,
        uint64 leafIndex,
        bytes32[] calldata proof,
        RecordStatus status
    ) external {
        _existingBatch(batchId);
        bool byContract = _statusCaller(status);
        (address member, RecordStatus current) = _provenStatus(
            commitment,
            batchId,
            leafIndex,
            proof,
            byContract
        );
        if (!_allowedStep(current, status)) revert InvalidStatusChange(commitment, current, status);
        _changeStatus(commitment, member, current, status, bytes32(0));
    }

    /// @notice Sets the status of up to `MAX_STATUS_MARKS` anchored commitments to `status` in
    ///         one transaction, with the checks of `setStatus` on each: a node's retention sweep
    ///         expires thousands of records in a few transactions instead of one each.
    /// @dev Reverts as `setStatus` does for the caller (`NotActiveMember`, `StatusNotAllowed`)
    ///      and for any mark it could never apply (`UnknownBatch`, `NotBatchOwner`,
    ///      `InvalidProof`): those are the sender's errors, and nothing is changed. A mark whose
    ///      commitment's current status cannot step to `status` (say, it was revoked or
    ///      disputed by someone else since the sender looked) is skipped instead of reverting
    ///      the whole call, so that a change made by another party never costs the others
    ///      theirs: every mark applied emits `RecordStatusChanged`, a skipped one emits
    ///      nothing and changes nothing, and the sender reads which from the receipt's events.
    ///      Reverts `EmptyBatch` for no marks and `TooManyMarks` for more than the cap.
    /// @param marks The commitments, each with its batch id, leaf index and inclusion proof.
    /// @param status The new status of every one of them; never `Superseded`.
    /// @return applied The number of marks applied (the others were skipped).
    function setStatuses(
        StatusMark[] calldata marks,
        RecordStatus status
    ) external returns (uint256 applied) {
        if (marks.length == 0) revert EmptyBatch();
        if (marks.length > MAX_STATUS_MARKS) revert TooManyMarks(marks.length, MAX_STATUS_MARKS);
        bool byContract = _statusCaller(status);
        for (uint256 i = 0; i < marks.length; ++i) {
            StatusMark calldata mark = marks[i];
            _existingBatch(mark.batchId);
            (address member, RecordStatus current) = _provenStatus(
                mark.commitment,
                mark.batchId,
                mark.leafIndex,
                mark.proof,
                byContract
            );
            if (!_allowedStep(current, status)) continue;
            _changeStatus(mark.commitment, member, current, status, bytes32(0));
            ++applied;
        }
    }

    /// @notice Marks leaves of one of the sender's batches expired, one bit a leaf: bit i of
    ///         `bits[k]` is leaf `words[k] * 256 + i`. No proof and no storage per commitment:
    ///         a retention sweep of a day's expiries costs a few thousand gas per word of 256
    ///         leaves instead of a storage write and an inclusion proof per record.
    /// @dev The sender must be the batch's anchoring member and active (`NotActiveMember`,
    ///      `UnknownBatch`, `NotBatchOwner`), as for `setStatus` to Expired. Reverts
    ///      `EmptyBatch` for no words, `TooManyWords` past `MAX_EXPIRY_WORDS`,
    ///      `WordsBitsMismatch`, and `LeafOutOfRange` for a bit past the batch's size; nothing
    ///      is changed then. Bits already set are ignored; each word with fresh bits emits
    ///      `LeavesExpired` with those alone. A leaf whose commitment is already Superseded or
    ///      Revoked keeps that status: the bit folds in over Active and Disputed only.
    /// @param batchId The batch whose leaves expire.
    /// @param words The bitmap words (leaf index / 256).
    /// @param bits The leaves of each word to mark, one bit a leaf.
    /// @return marked The number of leaves newly marked.
    function expireLeaves(
        uint256 batchId,
        uint256[] calldata words,
        uint256[] calldata bits
    ) external onlyActiveMember returns (uint256 marked) {
        Batch storage batch = _existingBatch(batchId);
        if (batch.member != msg.sender) revert NotBatchOwner(msg.sender, batchId);
        if (words.length == 0) revert EmptyBatch();
        if (words.length > MAX_EXPIRY_WORDS) revert TooManyWords(words.length, MAX_EXPIRY_WORDS);
        if (words.length != bits.length) revert WordsBitsMismatch(words.length, bits.length);
        uint64 size = batch.size;
        mapping(uint256 => uint256) storage bitmap = _expiredLeaves[batchId];
        for (uint256 k = 0; k < words.length; ++k) {
            uint256 word = words[k];
            if (_pastSize(word, bits[k], size)) revert LeafOutOfRange(batchId, word, bits[k], size);
            uint256 old = bitmap[word];
            uint256 fresh = bits[k] & ~old;
            if (fresh == 0) continue;
            bitmap[word] = old | fresh;
            marked += _popcount(fresh);
            emit LeavesExpired(batchId, msg.sender, word, fresh);
        }
    }

    /// @notice The status of `commitment`, proven to be leaf `leafIndex` of batch `batchId`:
    ///         the status `statusOf` holds, except Expired when the leaf is marked in the
    ///         batch's expiry bitmap and that status is Active or Disputed.
    /// @dev Reverts `UnknownBatch` and `InvalidProof`.
    /// @param commitment A record commitment.
    /// @param batchId The batch that anchored it.
    /// @param leafIndex Its position in that batch's tree.
    /// @param proof The RFC 9162 inclusion proof, sibling hashes from leaf to root.
    /// @return The commitment's status.
    function statusAt(
        bytes32 commitment,
        uint256 batchId,
        uint64 leafIndex,
        bytes32[] calldata proof
    ) external view returns (RecordStatus) {
        Batch storage batch = _existingBatch(batchId);
        if (!verifyInclusion(commitment, leafIndex, batch.size, proof, batch.root)) {
            revert InvalidProof(commitment, batchId);
        }
        return _folded(_statusOf[commitment], batchId, leafIndex);
    }

    /// @notice Word `word` of batch `batchId`'s expiry bitmap: bit i set if leaf
    ///         `word * 256 + i` was marked expired by `expireLeaves`.
    /// @param batchId The batch id.
    /// @param word The word (leaf index / 256).
    /// @return The word's bits.
    function expiredLeaves(uint256 batchId, uint256 word) external view returns (uint256) {
        return _expiredLeaves[batchId][word];
    }

    /// @notice The batch with id `batchId`.
    /// @dev Reverts `UnknownBatch` for an id that was never issued (0 included).
    /// @param batchId The batch id.
    /// @return member The member that anchored it.
    /// @return root Its Merkle root.
    /// @return size Its number of commitments.
    /// @return prevRoot The member's previous root (zero for its first batch).
    /// @return anchoredAt The timestamp of the block that anchored it.
    function getBatch(
        uint256 batchId
    )
        external
        view
        returns (address member, bytes32 root, uint64 size, bytes32 prevRoot, uint64 anchoredAt)
    {
        Batch storage batch = _existingBatch(batchId);
        return (
            batch.member,
            batch.root,
            batch.size,
            _batches[batch.prevBatchId].root,
            batch.anchoredAt
        );
    }

    /// @notice Where batch `batchId` sits in its member's chain and in the block chain.
    /// @dev Reverts `UnknownBatch` for an id that was never issued.
    /// @param batchId The batch id.
    /// @return prevBatchId The member's previous batch id (0 for its first batch).
    /// @return blockNumber The number of the block that anchored it.
    function getBatchLink(
        uint256 batchId
    ) external view returns (uint256 prevBatchId, uint64 blockNumber) {
        Batch storage batch = _existingBatch(batchId);
        return (batch.prevBatchId, batch.blockNumber);
    }

    /// @notice The id of the batch that anchored `root`.
    /// @param root A Merkle root.
    /// @return The batch id, 0 if `root` was never anchored.
    function batchOfRoot(bytes32 root) external view returns (uint256) {
        return _batchOfRoot[root];
    }

    /// @notice The root of `member`'s latest batch: the `prevRoot` its next batch must name.
    /// @param member A member address.
    /// @return The root, zero if the member has anchored nothing.
    function lastRoot(address member) external view returns (bytes32) {
        return _batches[_lastBatchOf[member]].root;
    }

    /// @notice The id of `member`'s latest batch.
    /// @param member A member address.
    /// @return The batch id, 0 if the member has anchored nothing.
    function lastBatchOf(address member) external view returns (uint256) {
        return _lastBatchOf[member];
    }

    /// @notice The number of batches anchored, which is also the latest batch id.
    /// @return The batch count.
    function batchCount() external view returns (uint256) {
        return _batchCount;
    }

    /// @notice The status of `commitment` as its own changes left it; `Active` if no change was
    ///         ever recorded. It does not know expiries marked in a batch's bitmap
    ///         (`expireLeaves`): `statusAt`, given where the commitment was anchored, does.
    /// @param commitment A record commitment.
    /// @return The commitment's status.
    function statusOf(bytes32 commitment) external view returns (RecordStatus) {
        return _statusOf[commitment];
    }

    /// @notice Verifies an RFC 9162 section 2.1.3.2 inclusion proof: that `commitment` is leaf
    ///         `leafIndex` of the `treeSize`-leaf Merkle tree with head `root`.
    /// @dev Leaf hash sha256(0x00 || commitment), node hash sha256(0x01 || left || right).
    ///      Returns false, never reverts, for a malformed proof.
    /// @param commitment The leaf's commitment (the leaf data, before leaf hashing).
    /// @param leafIndex The leaf's zero-based position.
    /// @param treeSize The number of leaves in the tree.
    /// @param proof Sibling hashes from leaf to root, at most `MAX_PROOF_LENGTH`.
    /// @param root The expected Merkle tree head.
    /// @return True if the proof leads from the leaf to `root`.
    function verifyInclusion(
        bytes32 commitment,
        uint64 leafIndex,
        uint64 treeSize,
        bytes32[] calldata proof,
        bytes32 root
    ) public pure returns (bool) {
        if (leafIndex >= treeSize || proof.length > MAX_PROOF_LENGTH) return false;
        uint64 fn = leafIndex;
        uint64 sn = treeSize - 1;
        bytes32 r = sha256(abi.encodePacked(bytes1(0x00), commitment));
        for (uint256 i = 0; i < proof.length; ++i) {
            if (sn == 0) return false;
            if (fn & 1 == 1 || fn == sn) {
                r = sha256(abi.encodePacked(bytes1(0x01), proof[i], r));
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                r = sha256(abi.encodePacked(bytes1(0x01), r, proof[i]));
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && r == root;
    }

    /// @dev Whether the sender may ask for `status` at all, and as what: true for a consortium
    ///      contract, false for an active member (who may only revoke or expire its own).
    function _statusCaller(RecordStatus status) private view returns (bool byContract) {
        if (status == RecordStatus.Superseded) revert StatusNotAllowed(msg.sender, status);
        if (consortium.contractName(msg.sender) != bytes32(0)) return true;
        if (!consortium.isActiveMember(msg.sender)) revert NotActiveMember(msg.sender);
        if (status != RecordStatus.Revoked && status != RecordStatus.Expired) {
            revert StatusNotAllowed(msg.sender, status);
        }
        return false;
    }

    /// @dev The anchoring member and current status of `commitment`, once the sender's right to
    ///      the batch (a member owns it) and the inclusion proof are checked.
    function _provenStatus(
        bytes32 commitment,
        uint256 batchId,
        uint64 leafIndex,
        bytes32[] calldata proof,
        bool byContract
    ) private view returns (address member, RecordStatus current) {
        Batch storage batch = _batches[batchId];
        member = batch.member;
        if (!byContract && member != msg.sender) revert NotBatchOwner(msg.sender, batchId);
        if (!verifyInclusion(commitment, leafIndex, batch.size, proof, batch.root)) {
            revert InvalidProof(commitment, batchId);
        }
        current = _folded(_statusOf[commitment], batchId, leafIndex);
    }

    /// @dev Whether the table above has the step from `current` to `status` (not Superseded).
    function _allowedStep(RecordStatus current, RecordStatus status) private pure returns (bool) {
        if (status == RecordStatus.Active) return current == RecordStatus.Disputed;
        if (status == RecordStatus.Disputed) return current == RecordStatus.Active;
        return current == RecordStatus.Active || current == RecordStatus.Disputed;
    }

    /// @dev `stored` with the leaf's expiry bit folded in: Expired over Active or Disputed.
    function _folded(
        RecordStatus stored,
        uint256 batchId,
        uint64 leafIndex
    ) private view returns (RecordStatus) {
        if (stored != RecordStatus.Active && stored != RecordStatus.Disputed) return stored;
        uint256 bits = _expiredLeaves[batchId][leafIndex >> 8];
        return (bits >> (leafIndex & 0xff)) & 1 == 1 ? RecordStatus.Expired : stored;
    }

    /// @dev Whether `bits` of word `word` name a leaf at or past `size`.
    function _pastSize(uint256 word, uint256 bits, uint64 size) private pure returns (bool) {
        if (bits == 0) return false;
        if (word >= (uint256(size) + 255) >> 8) return true;
        uint256 inWord = uint256(size) - (word << 8); // leaves of this word in the batch
        return inWord < 256 && bits >> inWord != 0;
    }

    /// @dev The number of set bits of `x` (SWAR: no loop over bits).
    function _popcount(uint256 x) private pure returns (uint256) {
        unchecked {
            x -= (x >> 1) & 0x5555555555555555555555555555555555555555555555555555555555555555;
            x =
                (x & 0x3333333333333333333333333333333333333333333333333333333333333333) +
                ((x >> 2) & 0x3333333333333333333333333333333333333333333333333333333333333333);
            x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f;
            x = (x + (x >> 8)) & 0x00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff;
            return (x * 0x0001000100010001000100010001000100010001000100010001000100010001) >> 240;
        }
    }

    /// @dev The one place a commitment's status changes, with its event; callers check first.
    function _changeStatus(
        bytes32 commitment,
        address member,
        RecordStatus previous,
        RecordStatus status,
        bytes32 replacement
    ) private {
        _statusOf[commitment] = status;

        emit RecordStatusChanged(commitment, member, msg.sender, previous, status, replacement);
    }

    function _existingBatch(uint256 batchId) internal view returns (Batch storage batch) {
        batch = _batches[batchId];
        if (batch.size == 0) revert UnknownBatch(batchId);
    }
}
