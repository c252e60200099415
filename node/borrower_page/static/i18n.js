// The page's words, in Chinese (the default) and English. Elements carry data-i18n="key"
// (their text) or data-i18n-label="key" (their aria-label); t() fills {name} placeholders.

const zh = {
  title: "我的征信授权",
  intro: "在这里授权成员机构查询您的信用信息、随时撤销授权，并查看谁在何时、为何查询过您。每一条记录都在您的浏览器里对照区块链核验。",
  lang: "English",
  "key.heading": "1. 您的密钥",
  "key.explain": "您用密钥签名授权和撤销。密钥只保存在您的设备上；本页不会把密码或密钥发送给任何人。",
  "key.useWallet": "使用浏览器钱包",
  "key.create": "在本浏览器创建密钥",
  "key.password": "设置密码（至少 8 位）",
  "key.password2": "再次输入密码",
  "key.unlockPassword": "密码",
  "key.unlock": "解锁",
  "key.forget": "从本浏览器删除密钥",
  "key.restore": "从备份文件恢复",
  "key.creating": "正在加密保存密钥，请稍候……",
  "key.unlocking": "正在解锁，请稍候……",
  "key.backupHeading": "请先下载备份",
  "key.backupExplain": "密钥只存在这个浏览器里。清除浏览器数据或换设备后，只能用备份文件和密码恢复。使用前必须先下载备份。",
  "key.backup": "下载备份文件",
  "key.address": "您的地址",
  "key.bindHeading": "如何绑定",
  "key.bindExplain": "请携带身份证件到任一成员机构，请工作人员核验身份后，把上面的地址绑定到您的身份。绑定后即可在此授权。",
  "key.check": "检查绑定状态",
  "key.bound": "已绑定（由成员 {member} 核验，区块 {block}）。",
  "key.notBound": "此地址还没有绑定到您的身份。",
  "key.passwordShort": "密码至少需要 8 位。",
  "key.passwordMismatch": "两次输入的密码不一致。",
  "consent.heading": "2. 授权查询",
  "consent.member": "授权给哪家机构",
  "consent.purpose": "查询用途",
  "consent.days": "有效天数",
  "consent.preview": "查看将要签名的内容",
  "consent.whatSigned": "您将签名的内容（原样发送给钱包）：",
  "consent.summary": "您将授权 {member} 为「{purpose}」查询您的信用信息，自 {from} 起至 {until} 止。",
  "consent.sign": "签名并提交授权",
  "consent.done": "授权已登记在区块链上（区块 {block}）。",
  "consent.suspended": "（已暂停）",
  "trail.heading": "3. 我的记录",
  "trail.explain": "登录时您的密钥会签名一条一次性的登录消息，不发送密码。",
  "trail.load": "登录并查看记录",
  "trail.loading": "正在读取并核验……",
  "trail.empty": "还没有任何记录。",
  "trail.asOf": "截至区块 {block}。",
  "trail.binding": "绑定：地址 {address} 由 {member} 绑定",
  "trail.unbinding": "解除绑定：地址 {address}",
  "trail.consent": "授权：{member}，用途「{purpose}」，{from} 至 {until}",
  "trail.revocation": "撤销授权：{member}，用途「{purpose}」。此后依此授权的查询都会被拒绝。",
  "trail.query": "查询：{requester} 查询了您的信息（用途「{purpose}」），本节点作为{side}记录",
  "trail.side.holder": "被查询方",
  "trail.side.requester": "查询方",
  "trail.underConsent": "依据授权 {consent}",
  "trail.revoke": "撤销此授权",
  "trail.revoked": "已撤销",
  "trail.active": "有效",
  "trail.expired": "已过期",
  "trail.revokeDone": "授权已撤销（区块 {block}）。此后依此授权的查询都会被拒绝。",
  "mark.verified": "✓ 已核验",
  "mark.failed": "✗ 核验未通过：{detail}",
  "mark.pending": "… 等待上链：{detail}",
  "mark.checking": "… 核验中",
  "flag.no_consent": "此查询没有对应的授权！",
  "flag.before_window": "此查询发生在授权生效之前！",
  "flag.after_window": "此查询发生在授权过期之后！",
  "flag.after_revocation": "此查询发生在您撤销授权之后！",
  "error.not_bound": "此地址还没有绑定到您的身份。请先到成员机构绑定。",
  "error.unbound_signer": "签名的地址没有绑定到您的身份。请先到成员机构绑定。",
  "error.login_unbound": "此地址没有绑定到您的身份，无法查看记录。",
  "error.consent_expired": "授权的有效期已经结束，请重新选择有效期。",
  "error.invalid_window": "有效期不正确：结束时间必须晚于开始时间。",
  "error.window_too_long": "有效期太长，请缩短（最长一年）。",
  "error.grantee_not_active": "该机构目前不是正常状态的成员（可能已被暂停），不能授权给它。",
  "error.unknown_purpose": "不支持这个查询用途。",
  "error.forged_signature": "签名与授权内容不符，请重新签名。",
  "error.consent_exists": "同样的授权已经登记过了。",
  "error.consent_revoked": "这个授权已经撤销过了。",
  "error.consent_not_found": "找不到这个授权。",
  "error.login_stale": "登录消息已过期或设备时间不准，请校准时间后重试。",
  "error.login_replayed": "这条登录消息已用过，请重新登录。",
  "error.login_forged": "登录签名无效，请重试。",
  "error.not_mined": "区块链暂时没有确认，请稍后再试。",
  "error.not_active_member": "本节点所属机构目前不能提交授权，请换一家机构的页面。",
  "error.wrong_password": "密码不正确。",
  "error.rejected": "您在钱包中取消了签名。",
  "error.network": "无法连接到节点，请检查网络后重试。",
  "error.backup_first": "请先下载备份文件。",
  "purpose.loan_application": "贷款审批",
  "purpose.credit_card_application": "信用卡审批",
  "purpose.guarantee_review": "担保资格审查",
  "purpose.post_loan_management": "贷后管理",
  "purpose.post_guarantee_management": "保后管理",
  "purpose.merchant_verification": "特约商户实名审查",
  "error.other": "出错了：{detail}",
};

const en = {
  title: "My credit consents",
  intro: "Here you let member lenders see your credit information, withdraw that at any time, and see who looked, when and why. Every entry is checked against the blockchain in your browser.",
  lang: "中文",
  "key.heading": "1. Your key",
  "key.explain": "You sign consents and revocations with your key. It stays on your device; this page never sends your password or key to anyone.",
  "key.useWallet": "Use my browser wallet",
  "key.create": "Create a key in this browser",
  "key.password": "Choose a password (8 characters or more)",
  "key.password2": "Repeat the password",
  "key.unlockPassword": "Password",
  "key.unlock": "Unlock",
  "key.forget": "Remove the key from this browser",
  "key.restore": "Restore from a backup file",
  "key.creating": "Encrypting and saving your key…",
  "key.unlocking": "Unlocking…",
  "key.backupHeading": "Save a backup first",
  "key.backupExplain": "The key lives in this browser only. If you clear the browser's data or change device, only the backup file and your password bring it back. Download the backup before you use the key.",
  "key.backup": "Download the backup file",
  "key.address": "Your address",
  "key.bindHeading": "How to bind it",
  "key.bindExplain": "Take your identity document to any member lender; their staff check who you are and bind the address above to you. Then you can give consent here.",
  "key.check": "Check the binding",
  "key.bound": "Bound (verified by member {member}, block {block}).",
  "key.notBound": "This address is not bound to you yet.",
  "key.passwordShort": "The password needs 8 characters or more.",
  "key.passwordMismatch": "The two passwords differ.",
  "consent.heading": "2. Give consent",
  "consent.member": "Which lender",
  "consent.purpose": "What for",
  "consent.days": "Valid for (days)",
  "consent.preview": "Show what I will sign",
  "consent.whatSigned": "What you will sign (sent to the wallet as it is):",
  "consent.summary": "You let {member} see your credit information for “{purpose}”, from {from} until {until}.",
  "consent.sign": "Sign and send the consent",
  "consent.done": "The consent is registered on the blockchain (block {block}).",
  "consent.suspended": " (suspended)",
  "trail.heading": "3. My trail",
  "trail.explain": "To log in, your key signs a one-time login message; no password is sent.",
  "trail.load": "Log in and show my trail",
  "trail.loading": "Reading and checking…",
  "trail.empty": "Nothing yet.",
  "trail.asOf": "As of block {block}.",
  "trail.binding": "Binding: address {address} bound by {member}",
  "trail.unbinding": "Unbinding: address {address}",
  "trail.consent": "Consent: {member}, for “{purpose}”, {from} to {until}",
  "trail.revocation": "Consent withdrawn: {member}, for “{purpose}”. Any later query under it is refused.",
  "trail.query": "Query: {requester} looked at your information (for “{purpose}”); logged by this node as the {side}",
  "trail.side.holder": "member asked",
  "trail.side.requester": "member asking",
  "trail.underConsent": "under consent {consent}",
  "trail.revoke": "Withdraw this consent",
  "trail.revoked": "withdrawn",
  "trail.active": "in force",
  "trail.expired": "expired",
  "trail.revokeDone": "Consent withdrawn (block {block}). Any later query under it is refused.",
  "mark.verified": "✓ verified",
  "mark.failed": "✗ did not verify: {detail}",
  "mark.pending": "… waiting for the chain: {detail}",
  "mark.checking": "… checking",
  "flag.no_consent": "This query had no consent!",
  "flag.before_window": "This query came before the consent began!",
  "flag.after_window": "This query came after the consent ended!",
  "flag.after_revocation": "This query came after you withdrew the consent!",
  "error.not_bound": "This address is not bound to you yet. Have a member lender bind it first.",
  "error.unbound_signer": "The signing address is not bound to you. Have a member lender bind it first.",
  "error.login_unbound": "This address is not bound to you, so it cannot open your trail.",
  "error.consent_expired": "The consent would already have ended: choose its validity again.",
  "error.invalid_window": "The validity is wrong: it must end after it begins.",
  "error.window_too_long": "The validity is too long: one year at most.",
  "error.grantee_not_active": "That lender is not an active member now (it may be suspended): you cannot consent to it.",
  "error.unknown_purpose": "That purpose is not one a consent may name.",
  "error.forged_signature": "The signature does not match the consent: sign again.",
  "error.consent_exists": "The same consent is registered already.",
  "error.consent_revoked": "That consent was withdrawn already.",
  "error.consent_not_found": "That consent cannot be found.",
  "error.login_stale": "The login is too old, or your device's clock is off: set the clock and try again.",
  "error.login_replayed": "That login was used already: log in again.",
  "error.login_forged": "The login signature does not hold: try again.",
  "error.not_mined": "The blockchain did not confirm it yet: try again in a moment.",
  "error.not_active_member": "This node's member cannot relay consents now: use another member's page.",
  "error.wrong_password": "Wrong password.",
  "error.rejected": "You cancelled the signature in your wallet.",
  "error.network": "The node cannot be reached: check your connection and try again.",
  "error.backup_first": "Download the backup file first.",
  "purpose.loan_application": "a loan application",
  "purpose.credit_card_application": "a credit card application",
  "purpose.guarantee_review": "a guarantee review",
  "purpose.post_loan_management": "managing a loan already made",
  "purpose.post_guarantee_management": "managing a guarantee already given",
  "purpose.merchant_verification": "checking a merchant's real name",
  "error.other": "Something went wrong: {detail}",
};

export const STRINGS = { "zh-CN": zh, en };
const STORE = "creditchain.borrower.lang";
let lang = localStorage.getItem(STORE) in STRINGS ? localStorage.getItem(STORE) : "zh-CN";

export function currentLang() {
  return lang;
}

export function t(key, vars = {}) {
  const text = STRINGS[lang][key] ?? STRINGS["zh-CN"][key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

/** Write every data-i18n text and aria-label in the document in the current language. */
export function applyLang() {
  document.documentElement.lang = lang;
  document.title = t("title");
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  }
}

export function toggleLang() {
  lang = lang === "zh-CN" ? "en" : "zh-CN";
  localStorage.setItem(STORE, lang);
  applyLang();
}

/** A sentence for a node's error answer ({error, detail}) or a thrown error. */
export function sentence(err) {
  const code = err?.error ?? err?.code;
  if (code === 4001 || code === "ACTION_REJECTED") return t("error.rejected");
  if (typeof code === "string" && `error.${code}` in STRINGS["zh-CN"]) return t(`error.${code}`);
  const message = String(err?.detail ?? err?.message ?? err);
  if (/incorrect password|invalid password/i.test(message)) return t("error.wrong_password");
  if (err instanceof TypeError && /fetch/i.test(message)) return t("error.network");
  return t("error.other", { detail: message });
}
