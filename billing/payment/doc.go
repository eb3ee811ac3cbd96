// Package payment is the chain-independent core of crypto payments: the
// chains and tokens accepted, payment intents for an invoice, the Verifier
// each chain package implements (billing/payment/solana,
// billing/payment/tron), how an observed transfer settles an intent
// (Assess), USD-to-token conversion in integers (Rate, PriceSource) and the
// configuration.
//
// Money is integers throughout: USD in cents, tokens in their smallest unit
// (lamports, sun, 6-decimal USDC/USDT). Decimal strings are converted
// exactly (ParseUnits, FormatUnits); nothing here touches a float. The
// package holds no state and depends on no storage: the ledger records what
// it decides.
package payment
