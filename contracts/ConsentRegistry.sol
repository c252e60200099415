// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

import {IConsortium} from "./IConsortium.sol";

/// @title ConsentRegistry
/// @notice Borrowers' addresses bound to their subject keys, and the consents they sign.
///         A member that verified a borrower's identity binds the borrower's address to the
///         borrower's subject key (the member attests it). A bound address signs consents
///         (EIP-712) for a named member and purpose within a window; any active member relays
///         them, so a borrower never needs gas. A consent is revoked at once by a signature of
///         any address bound to its subject.
/// @dev Consent ids are the EIP-712 digests of the signed messages, so the same message is
///      registered once. Purposes follow 征信业管理条例 Art. 18 and 20; their names are listed
///      in node/consents/purposes.py, index = the uint8 here.
contract ConsentRegistry {
    /// @notice A consent as the borrower signs it (EIP-712 primary type "Consent").
    struct Consent {
        bytes32 subjectKey;
        address grantee;
        uint8 purpose;
        uint64 validFrom;
        uint64 validUntil;
        uint256 nonce;
    }

    /// @dev Three slots: subjectKey, (grantee, purpose, validFrom), (validUntil, revokedAt).
    struct Stored {
        bytes32 subjectKey;
        address grantee;
        uint8 purpose;
        uint64 validFrom;
        uint64 validUntil;
        uint64 revokedAt;
    }

    /// @notice How many purposes there are; a purpose is a number below this.
    uint8 public constant PURPOSE_COUNT = 6;

    bytes32 public constant DOMAIN_TYPEHASH = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    );
    bytes32 public constant CONSENT_TYPEHASH = keccak256(
        "Consent(bytes32 subjectKey,address grantee,uint8 purpose,uint64 validFrom,"
        "uint64 validUntil,uint256 nonce)"
    );
    bytes32 public constant REVOCATION_TYPEHASH = keccak256("Revocation(bytes32 consentId)");
    bytes32 private constant NAME_HASH = keccak256("creditchain");
    bytes32 private constant VERSION_HASH = keccak256("1");
    /// @dev secp256k1's group order halved: a larger `s` is the malleable twin of a signature.
    uint256 private constant HALF_ORDER =
        0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    /// @notice The consortium asked whether members are active.
    IConsortium public immutable consortium;

    /// @notice The longest window (validUntil - validFrom) a consent may have, in seconds.
    uint64 public immutable maxDuration;

    mapping(address borrower => bytes32) private _subjectOf;
    mapping(address borrower => address) private _binderOf;
    mapping(bytes32 consentId => Stored) private _consents;

    /// @notice `member` attested that `borrower` belongs to the subject `subjectKey`.
    event Bound(bytes32 indexed subjectKey, address indexed borrower, address indexed member);

    /// @notice `member` removed its binding of `borrower` to `subjectKey` (a lost key).
    event Unbound(bytes32 indexed subjectKey, address indexed borrower, address indexed member);

    /// @notice `borrower`, bound to `subjectKey`, consented that `grantee` query it for
    ///         `purpose` from `validFrom` until `validUntil`; `consentId` is the message's
    ///         EIP-712 digest.
    event ConsentRegistered(
        bytes32 indexed consentId,
        bytes32 indexed subjectKey,
        address indexed grantee,
        address borrower,
        uint8 purpose,
        uint64 validFrom,
        uint64 validUntil,
        uint256 nonce
    );

    /// @notice `borrower`, bound to `subjectKey`, revoked consent `consentId` in this block.
    event ConsentRevoked(
        bytes32 indexed consentId,
        bytes32 indexed subjectKey,
        address indexed borrower
    );

    /// @notice `who` is not an active member of the consortium.
    error NotActiveMember(address who);
    /// @notice The consortium address has no contract code.
    error NotAContract(address account);
    /// @notice A subject key cannot be zero.
    error ZeroSubject();
    /// @notice The zero address cannot be bound.
    error ZeroAddress();
    /// @notice `borrower` is already bound to `subjectKey`.
    error AlreadyBound(address borrower, bytes32 subjectKey);
    /// @notice `borrower` is not bound to `subjectKey`.
    error NotBound(address borrower, bytes32 subjectKey);
    /// @notice `who` did not bind `borrower`; only the member that bound it unbinds it.
    error NotBinder(address who, address borrower);
    /// @notice The signature is not a well-formed secp256k1 signature (65 bytes, low s).
    error InvalidSignature();
    /// @notice The address that signed, `signer`, is not bound to `subjectKey`.
    error UnboundSigner(address signer, bytes32 subjectKey);
    /// @notice The grantee `grantee` is not an active member.
    error GranteeNotActive(address grantee);
    /// @notice `purpose` is not below PURPOSE_COUNT.
    error UnknownPurpose(uint8 purpose);
    /// @notice validFrom must be before validUntil.
    error InvalidWindow(uint64 validFrom, uint64 validUntil);
    /// @notice The window is `duration` seconds, longer than `maxDuration`.
    error WindowTooLong(uint256 duration, uint64 maxDuration);
    /// @notice The consent ended at `validUntil`, not after now (`now_`).
    error ConsentExpired(uint64 validUntil, uint256 now_);
    /// @notice Consent `consentId` is already registered.
    error ConsentExists(bytes32 consentId);
    /// @notice No consent has id `consentId`.
    error UnknownConsent(bytes32 consentId);
    /// @notice Consent `consentId` was revoked at `revokedAt`.
    error AlreadyRevoked(bytes32 consentId, uint64 revokedAt);

    modifier onlyActiveMember() {
        if (!consortium.isActiveMember(msg.sender)) revert NotActiveMember(msg.sender);
        _;
    }

    /// @notice Creates the registry of one consortium.
    /// @param consortium_ The `Consortium` contract that says who is an active member.
    /// @param maxDuration_ The longest consent window in seconds (one year: 31536000).
    constructor(IConsortium consortium_, uint64 maxDuration_) {
        if (address(consortium_).code.length == 0) revert NotAContract(address(consortium_));
        consortium = consortium_;
        maxDuration = maxDuration_;
    }

    // -- bindings --------------------------------------------------------------------------

    /// @notice Binds `borrower` to `subjectKey`, attested by the sender, which verified the
    ///         borrower's identity. An address belongs to one subject; a subject may have many.
    /// @param subjectKey The subject's HMAC pseudonym.
    /// @param borrower The borrower's address.
    function bind(bytes32 subjectKey, address borrower) external onlyActiveMember {
        if (subjectKey == bytes32(0)) revert ZeroSubject();
        if (borrower == address(0)) revert ZeroAddress();
        bytes32 current = _subjectOf[borrower];
        if (current != bytes32(0)) revert AlreadyBound(borrower, current);

        _subjectOf[borrower] = subjectKey;
        _binderOf[borrower] = msg.sender;

        emit Bound(subjectKey, borrower, msg.sender);
    }

    /// @notice Removes the sender's binding of `borrower` to `subjectKey` (a lost key).
    /// @param subjectKey The subject's HMAC pseudonym.
    /// @param borrower The bound address.
    function unbind(bytes32 subjectKey, address borrower) external onlyActiveMember {
        if (subjectKey == bytes32(0) || _subjectOf[borrower] != subjectKey) {
            revert NotBound(borrower, subjectKey);
        }
        if (_binderOf[borrower] != msg.sender) revert NotBinder(msg.sender, borrower);

        delete _subjectOf[borrower];
        delete _binderOf[borrower];

        emit Unbound(subjectKey, borrower, msg.sender);
    }

    /// @notice The subject `borrower` is bound to (zero if none) and the member that bound it.
    /// @param borrower The address to look up.
    /// @return subjectKey The subject's pseudonym.
    /// @return binder The attesting member.
    function bindingOf(address borrower) external view returns (bytes32 subjectKey, address binder) {
        return (_subjectOf[borrower], _binderOf[borrower]);
    }

    // -- consents --------------------------------------------------------------------------

    /// @notice Registers a consent signed by an address bound to its subject; relayed by
    ///         any active member.
    /// @param consent The signed message.
    /// @param signature The borrower's 65-byte signature (r, s, v) of its EIP-712 digest.
    /// @return consentId The message's EIP-712 digest.
    function registerConsent(
        Consent calldata consent,
        bytes calldata signature
    ) external onlyActiveMember returns (bytes32 consentId) {
        consentId = consentDigest(consent);
        address borrower = _recover(consentId, signature);
        if (consent.subjectKey == bytes32(0) || _subjectOf[borrower] != consent.subjectKey) {
            revert UnboundSigner(borrower, consent.subjectKey);
        }
        if (!consortium.isActiveMember(consent.grantee)) revert GranteeNotActive(consent.grantee);
        if (consent.purpose >= PURPOSE_COUNT) revert UnknownPurpose(consent.purpose);
        if (consent.validFrom >= consent.validUntil) {
            revert InvalidWindow(consent.validFrom, consent.validUntil);
        }
        uint256 duration = uint256(consent.validUntil) - consent.validFrom;
        if (duration > maxDuration) revert WindowTooLong(duration, maxDuration);
        if (consent.validUntil <= block.timestamp) {
            revert ConsentExpired(consent.validUntil, block.timestamp);
        }
        if (_consents[consentId].subjectKey != bytes32(0)) revert ConsentExists(consentId);

        _consents[consentId] = Stored({
            subjectKey: consent.subjectKey,
            grantee: consent.grantee,
            purpose: consent.purpose,
            validFrom: consent.validFrom,
            validUntil: consent.validUntil,
            revokedAt: 0
        });

        emit ConsentRegistered(
            consentId,
            consent.subjectKey,
            consent.grantee,
            borrower,
            consent.purpose,
            consent.validFrom,
            consent.validUntil,
            consent.nonce
        );
    }

    /// @notice Revokes consent `consentId` from this block's time on, by the signature of any
    ///         address bound to its subject; relayed by any active member.
    /// @param consentId The consent's id.
    /// @param signature The borrower's signature of the EIP-712 `Revocation(consentId)`.
    function revokeConsent(
        bytes32 consentId,
        bytes calldata signature
    ) external onlyActiveMember {
        Stored storage stored = _consents[consentId];
        if (stored.subjectKey == bytes32(0)) revert UnknownConsent(consentId);
        if (stored.revokedAt != 0) revert AlreadyRevoked(consentId, stored.revokedAt);
        address borrower = _recover(revocationDigest(consentId), signature);
        if (_subjectOf[borrower] != stored.subjectKey) {
            revert UnboundSigner(borrower, stored.subjectKey);
        }

        stored.revokedAt = uint64(block.timestamp);

        emit ConsentRevoked(consentId, stored.subjectKey, borrower);
    }

    /// @notice Consent `consentId` as registered (all zero if unknown).
    /// @param consentId The consent's id.
    /// @return subjectKey The subject it is about.
    /// @return grantee The member it lets query.
    /// @return purpose What for.
    /// @return validFrom From when.
    /// @return validUntil Until when (exclusive).
    /// @return revokedAt When it was revoked; zero while it stands.
    function getConsent(
        bytes32 consentId
    )
        external
        view
        returns (
            bytes32 subjectKey,
            address grantee,
            uint8 purpose,
            uint64 validFrom,
            uint64 validUntil,
            uint64 revokedAt
        )
    {
        Stored storage c = _consents[consentId];
        return (c.subjectKey, c.grantee, c.purpose, c.validFrom, c.validUntil, c.revokedAt);
    }

    /// @notice Whether consent `consentId` lets `grantee` query for `purpose` now.
    /// @param consentId The consent's id.
    /// @param grantee The querying member.
    /// @param purpose The purpose of the query.
    /// @return True if registered for them, inside its window and not revoked.
    function isValid(bytes32 consentId, address grantee, uint8 purpose) external view returns (bool) {
        Stored storage c = _consents[consentId];
        return c.subjectKey != bytes32(0) && c.grantee == grantee && c.purpose == purpose
            && c.revokedAt == 0 && block.timestamp >= c.validFrom
            && block.timestamp < c.validUntil;
    }

    // -- EIP-712 ---------------------------------------------------------------------------

    /// @notice The EIP-712 domain separator: "creditchain", "1", this chain, this contract.
    /// @return The separator.
    function domainSeparator() public view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this))
        );
    }

    /// @notice The EIP-712 digest of `consent`, which is also its consent id.
    /// @param consent The message.
    /// @return The digest.
    function consentDigest(Consent calldata consent) public view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                CONSENT_TYPEHASH,
                consent.subjectKey,
                consent.grantee,
                consent.purpose,
                consent.validFrom,
                consent.validUntil,
                consent.nonce
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    /// @notice The EIP-712 digest of the revocation of `consentId`.
    /// @param consentId The consent's id.
    /// @return The digest.
    function revocationDigest(bytes32 consentId) public view returns (bytes32) {
        bytes32 structHash = keccak256(abi.encode(REVOCATION_TYPEHASH, consentId));
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    function _recover(bytes32 digest, bytes calldata signature) internal pure returns (address) {
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
