// The borrower's key. An injected wallet (EIP-1193 window.ethereum) signs with
// eth_signTypedData_v4 when there is one; otherwise a key made in this browser, kept in
// localStorage only as an encrypted keystore (ethers' Wallet.encrypt: scrypt and AES with the
// borrower's password), which the borrower must download as a backup before it signs anything.
import { Wallet, getAddress } from "ethers";

const KEYSTORE = "creditchain.borrower.keystore";
const BACKED_UP = "creditchain.borrower.backedUp";

/** ethers takes the domain's type from the domain itself: the other types go in alone. */
function ethersParts(typed) {
  const types = { ...typed.types };
  delete types.EIP712Domain;
  return [typed.domain, types, typed.message];
}

export function hasInjected() {
  return typeof window !== "undefined" && !!window.ethereum?.request;
}

/** A signer over the injected wallet's first account: {address, kind, sign(typedData)}. */
export async function connectInjected() {
  const [account] = await window.ethereum.request({ method: "eth_requestAccounts" });
  const address = getAddress(account);
  return {
    address,
    kind: "injected",
    sign: (typed) =>
      window.ethereum.request({ method: "eth_signTypedData_v4", params: [address, JSON.stringify(typed)] }),
  };
}

function localSigner(wallet) {
  return { address: wallet.address, kind: "local", sign: (typed) => wallet.signTypedData(...ethersParts(typed)) };
}

/** The address of the key kept in this browser, or null. */
export function storedAddress() {
  const json = localStorage.getItem(KEYSTORE);
  if (!json) return null;
  try {
    return getAddress(JSON.parse(json).address);
  } catch {
    return null;
  }
}

export function storedKeystore() {
  return localStorage.getItem(KEYSTORE);
}

/** A new key, kept encrypted with `password`; it signs only once backedUp() says so. */
export async function createKey(password, progress) {
  const wallet = Wallet.createRandom();
  const keystore = await wallet.encrypt(password, progress);
  localStorage.setItem(KEYSTORE, keystore);
  localStorage.removeItem(BACKED_UP);
  return localSigner(wallet);
}

/** The stored key opened with `password` (ethers throws "incorrect password" otherwise). */
export async function unlock(password, progress) {
  const wallet = await Wallet.fromEncryptedJson(storedKeystore(), password, progress);
  return localSigner(wallet);
}

/** A key restored from a backup file the borrower chose, kept as it is. */
export async function restoreKey(keystore, password, progress) {
  const wallet = await Wallet.fromEncryptedJson(keystore, password, progress);
  localStorage.setItem(KEYSTORE, keystore);
  localStorage.setItem(BACKED_UP, wallet.address);
  return localSigner(wallet);
}

export function backedUp(address) {
  return localStorage.getItem(BACKED_UP) === address;
}

/** Hand the keystore to the browser as a file download, and remember that it was saved. */
export function downloadBackup(address) {
  const blob = new Blob([storedKeystore()], { type: "application/json" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `creditchain-key-${address}.json`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  localStorage.setItem(BACKED_UP, address);
}

export function forgetKey() {
  localStorage.removeItem(KEYSTORE);
  localStorage.removeItem(BACKED_UP);
}
