"""The chain as the API shows it: which chain and contracts (/v1/chain), and the embedded
chain's read-only JSON-RPC for verifiers (/rpc), with the sandbox its calls run in."""
