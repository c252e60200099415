// Signs or verifies EIP-712 typed data with ethers v6, as a borrower's wallet would.
// Reads one JSON object on stdin, the typed data as the node hands it out
// (eth_signTypedData_v4 shape), and writes one JSON object on stdout:
//   {"sign": typedData, "key": "0x..."}              -> {"signature": "0x...", "address": "0x..."}
//   {"verify": typedData, "signature": "0x..."}      -> {"address": "0x..."}
import { Wallet, verifyTypedData } from "ethers";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));

// ethers takes the domain's type from the domain itself: the other types go in alone
function parts(typed) {
  const types = { ...typed.types };
  delete types.EIP712Domain;
  return [typed.domain, types, typed.message];
}

if (input.sign) {
  const wallet = new Wallet(input.key);
  const signature = await wallet.signTypedData(...parts(input.sign));
  process.stdout.write(JSON.stringify({ signature, address: wallet.address }));
} else {
  const address = verifyTypedData(...parts(input.verify), input.signature);
  process.stdout.write(JSON.stringify({ address }));
}
