"""The purposes a borrower may consent to, after 征信业管理条例 Art. 18 and 20. The position in
PURPOSES is the uint8 the ConsentRegistry contract keeps (PURPOSE_COUNT there is its length):
append only, never reorder."""

PURPOSES: tuple[str, ...] = (
    "loan_application",  # 贷款审批
    "credit_card_application",  # 信用卡审批
    "guarantee_review",  # 担保资格审查
    "post_loan_management",  # 贷后管理
    "post_guarantee_management",  # 保后管理
    "merchant_verification",  # 特约商户实名审查
)
LABELS: dict[str, str] = {
    "loan_application": "贷款审批",
    "credit_card_application": "信用卡审批",
    "guarantee_review": "担保资格审查",
    "post_loan_management": "贷后管理",
    "post_guarantee_management": "保后管理",
    "merchant_verification": "特约商户实名审查",
}


def purpose_index(purpose: str | int) -> int:
    """The on-chain number of a purpose given by name or number; ValueError if there is none."""
    if isinstance(purpose, bool):
        raise ValueError("a purpose is a name or a number")
    if isinstance(purpose, int):
        if 0 <= purpose < len(PURPOSES):
            return purpose
        raise ValueError(f"no purpose number {purpose}")
    try:
        return PURPOSES.index(purpose)
    except ValueError:
        raise ValueError(f"no purpose named {purpose!r}") from None
