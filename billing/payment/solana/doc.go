// Package solana accepts SOL and USDC payments through Solana Pay transfer
// requests and verifies them strictly on chain with solana-go's RPC client.
//
// Each intent gets a fresh reference key, added as a read-only extra
// account of the transfer instruction. Verify finds every transaction
// naming the reference (getSignaturesForAddress, paged back with before to
// the oldest) and judges each one from getTransaction
// (maxSupportedTransactionVersion 0; account keys of v0 transactions are
// the static keys followed by meta.loadedAddresses writable then
// readonly): it must have succeeded (meta.err null), its last instruction
// must be the transfer — a System transfer for SOL, an SPL Token
// transferChecked of the configured USDC mint into the merchant's
// associated token account — with exactly the intent's references as its
// extra accounts, in order, and the memo instruction right before it. The
// amount is what the recipient account gained: raw pre/post token balance
// strings, or pre/post lamports for SOL, never a float. Only a
// transaction readable at commitment finalized counts; one seen at
// confirmed is reported Confirmed and counts once it finalizes.
//
// As in the Solana Pay reference implementation, the merchant's USDC
// associated token account must exist before USDC payments: the transfer
// goes to it and is not preceded by its creation.
package solana
