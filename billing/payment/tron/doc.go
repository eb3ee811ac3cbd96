// Package tron verifies Tron payments (native TRX and USDT-TRC20) on the
// chain through a small client of TronGrid's HTTP API, with its own
// secp256k1 signatures (decred's secp256k1), legacy Keccak-256 and
// base58check addresses: no gotron-sdk, no gRPC.
//
// # What counts as a payment
//
// A transaction settles an intent only when all of these hold, checked by
// Verifier.Observe and Judge:
//
//   - the node's raw_data_hex hashes (SHA-256) to the transaction id and
//     decodes (protobuf, proto.go) to exactly one contract; the JSON
//     rendering beside it is never trusted;
//   - one of its signatures recovers to the contract's owner_address;
//   - /walletsolidity/gettransactioninfobyid knows it: it is in a
//     solidified block. Before that the outcome is Pending;
//   - it succeeded: ret contractRet SUCCESS, no result FAILED and, for a
//     contract call, receipt.result SUCCESS (REVERT, OUT_OF_ENERGY, … are
//     Failed);
//   - TRX: the TransferContract's to_address is the merchant; the amount
//     is the contract's amount in sun (TRX a contract forwards in an
//     internal transaction is not counted: wallets pay with a plain
//     transfer);
//   - USDT-TRC20: a Transfer(address,address,uint256) event log emitted
//     by the configured token contract (mainnet MainnetUSDT) with the
//     merchant in topic 2; the amount is the log's raw uint256. Logs, not
//     call data, are read: they say what the token contract really moved.
//
// Amounts are integers of base units (*big.Int) compared exactly: equal is
// Paid, less Underpaid, more Overpaid. Another token reaching the merchant
// is WrongToken; the token going elsewhere is WrongRecipient.
//
// # Tying a transfer to one intent: unique amounts
//
// All intents pay one merchant address per token, and each open intent
// asks for a unique amount: the quote plus an offset of 1 to MaxOffset
// base units (under one cent of USDT, under 0.01 TRX) that no other open
// intent for the same token uses (UniqueAmount). The watcher lists the
// merchant's incoming solidified transfers since the intent was created
// (FindPayment) and an exact amount match names the intent; the match is
// then verified from scratch. A customer who sends another amount (an
// underpayment, an overpayment) is matched by confirming with the
// transaction id, which Verify judges against the intent.
//
// Why not a deposit address per intent: every Tron account must first be
// activated (1 TRX burnt), and sweeping USDT out of a deposit address
// costs energy (tens of TRX at today's prices unless energy is staked) per
// intent, and needs a hot key or HD derivation for each address. One
// merchant address needs neither; what it costs is that the amount, not
// the address, carries the intent, which is why a transfer must be to the
// exact amount to be matched automatically.
//
// Multi-signature accounts are not followed: a transfer counts when the
// owner's own key signed it.
//
// A transaction settles at most one intent: verdicts carry the tx id, and
// Claims (the ledger keeps the durable form) refuses a second intent with
// ErrTxReused naming the transaction.
//
// # Errors
//
// ErrRPC: the node could not be asked or answered with an HTTP error or a
// timeout (retry later). ErrNotFound: it does not know the transaction.
// ErrBadResponse, ErrBadTransaction, ErrUnsigned: what it served does not
// check (never a payment). Client, Verifier and Claims are safe for
// concurrent use.
package tron
