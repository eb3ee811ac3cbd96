package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	sol "github.com/gagliardetto/solana-go"
	"github.com/gagliardetto/solana-go/rpc"
	"github.com/spf13/cobra"
	"rsc.io/qr"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/payment"
	"github.com/aerolithdb/aerolith/billing/payment/signin"
	"github.com/aerolithdb/aerolith/billing/payment/solana"
	"github.com/aerolithdb/aerolith/billing/payment/tron"
)

// envSolanaRPC names the Solana RPC `wallet pay --keypair` sends to.
const envSolanaRPC = "AEROLITH_SOLANA_RPC_URL"

// newWalletCommand builds `aerolith wallet`: crypto wallets and payments.
func newWalletCommand(m *Main) *cobra.Command {
	f := &billingFlags{}
	var tenant string
	cmd := groupCommand("wallet", "Connect crypto wallets, read their balances and pay invoices in SOL, USDC, TRX or USDT")
	addBillingFlags(cmd, f)
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant to act for (required with an admin key; a tenant key acts for its own)")
	cmd.AddCommand(
		newWalletConnectCommand(m, f, &tenant),
		newWalletBalanceCommand(m, f, &tenant),
		newWalletPayCommand(m, f, &tenant),
		newWalletHistoryCommand(m, f, &tenant),
		newWalletDisconnectCommand(m, f, &tenant),
		newWalletStatusCommand(m, f, &tenant),
	)
	return apiFields(cmd, "tenant_id", "--tenant")
}

// walletKey is a local key: a Solana keypair or a Tron private key.
type walletKey struct {
	chain   string
	address string
	sign    func(message string) string
}

// loadWalletKey reads --keypair (a solana-keygen JSON file) or --tron-key
// (a file holding a hex secp256k1 private key).
func loadWalletKey(keypair, tronKey string) (walletKey, error) {
	switch {
	case keypair != "" && tronKey != "":
		return walletKey{}, usageError{errors.New("--keypair and --tron-key: give one")}
	case keypair != "":
		k, err := solana.LoadKeypair(keypair)
		if err != nil {
			return walletKey{}, fmt.Errorf("--keypair: %w", err)
		}
		return walletKey{chain: "solana", address: k.PublicKey().String(), sign: func(m string) string { return signin.SignSolana(ed25519.PrivateKey(k), m) }}, nil
	case tronKey != "":
		raw, err := os.ReadFile(tronKey)
		if err != nil {
			return walletKey{}, fmt.Errorf("--tron-key: %w", err)
		}
		k, err := tron.ParsePrivateKey(strings.TrimSpace(string(raw)))
		if err != nil {
			return walletKey{}, fmt.Errorf("--tron-key %s: %w", tronKey, err)
		}
		return walletKey{chain: "tron", address: tron.PublicKeyAddress(k.PubKey()).String(), sign: func(m string) string { return signin.SignTron(k, m) }}, nil
	}
	return walletKey{}, usageError{errors.New("--keypair (Solana JSON keypair file) or --tron-key (file with a hex Tron private key): required")}
}

// newWalletConnectCommand builds `aerolith wallet connect`.
func newWalletConnectCommand(m *Main, f *billingFlags, tenant *string) *cobra.Command {
	var keypair, tronKey string
	c := &cobra.Command{
		Use:   "connect",
		Short: "Connect a wallet: sign the service's challenge with a local key file (--keypair for Solana, --tron-key for Tron)",
		Args:  argsBetween(0, 0, "(none)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := loadWalletKey(keypair, tronKey)
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			ch, err := c.WalletChallenge(cmd.Context(), *tenant, k.chain, k.address)
			if err != nil {
				return err
			}
			w, err := c.ConnectWallet(cmd.Context(), billingclient.WalletProof{TenantID: *tenant, Chain: k.chain, Address: k.address, Message: ch.Message, Signature: k.sign(ch.Message)})
			if err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, w)
			}
			_, err = fmt.Fprintf(m.Stdout, "connected %s wallet %s to tenant %s (signed in at %s)\n", w.Chain, w.Address, w.TenantID, ch.Domain)
			return err
		},
	}
	c.Flags().StringVar(&keypair, "keypair", "", "Solana keypair file (solana-keygen JSON)")
	c.Flags().StringVar(&tronKey, "tron-key", "", "file holding a Tron private key in hex")
	return c
}

// newWalletBalanceCommand builds `aerolith wallet balance`.
func newWalletBalanceCommand(m *Main, f *billingFlags, tenant *string) *cobra.Command {
	var chain, address string
	c := &cobra.Command{
		Use:   "balance",
		Short: "Show the connected wallets' balances, read from the chains",
		Args:  argsBetween(0, 0, "(none)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			bs, err := c.WalletBalances(cmd.Context(), *tenant, chain, address)
			if err != nil {
				return err
			}
			if f.json() {
				if bs == nil {
					bs = []billingclient.WalletBalance{}
				}
				return writeJSON(m.Stdout, bs)
			}
			if len(bs) == 0 {
				_, err := fmt.Fprintln(m.Stdout, "no wallet connected (aerolith wallet connect)")
				return err
			}
			tw := newTable(m.Stdout)
			fmt.Fprintln(tw, "CHAIN\tADDRESS\tTOKEN\tBALANCE")
			for _, b := range bs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", b.Chain, b.Address, b.Token, b.Display)
			}
			return tw.Flush()
		},
	}
	c.Flags().StringVar(&chain, "chain", "", "only wallets on this chain (solana, tron)")
	c.Flags().StringVar(&address, "address", "", "only this wallet")
	return apiFields(c, "chain", "--chain", "address", "--address")
}

// newWalletPayCommand builds `aerolith wallet pay`.
func newWalletPayCommand(m *Main, f *billingFlags, tenant *string) *cobra.Command {
	var token, keypair, tronKey, rpcURL, tronURL, tronAPIKey string
	var wait time.Duration
	c := &cobra.Command{
		Use:   "pay INVOICE_ID",
		Short: "Pay an invoice: print the Solana Pay URL and its QR code (or the Tron address and exact amount); with --keypair or --tron-key send the transfer too",
		Args:  argsBetween(1, 1, "INVOICE_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, err := payment.ParseToken(token)
			if err != nil {
				return usageError{fmt.Errorf("--token: %w", err)}
			}
			var send func(a billingclient.PaymentIntentAnswer) (string, error)
			switch {
			case keypair != "" && tronKey != "":
				return usageError{errors.New("--keypair and --tron-key: give one")}
			case keypair != "":
				if tok.Chain() != payment.Solana {
					return usageError{fmt.Errorf("--keypair: pays on solana; %s is paid on %s (--tron-key)", tok, tok.Chain())}
				}
				payer, err := solana.LoadKeypair(keypair)
				if err != nil {
					return fmt.Errorf("--keypair: %w", err)
				}
				send = func(a billingclient.PaymentIntentAnswer) (string, error) {
					return paySolana(cmd, a, tok, payer, rpcURL)
				}
			case tronKey != "":
				if tok.Chain() != payment.Tron {
					return usageError{fmt.Errorf("--tron-key: pays on tron; %s is paid on %s (--keypair)", tok, tok.Chain())}
				}
				raw, err := os.ReadFile(tronKey)
				if err != nil {
					return fmt.Errorf("--tron-key: %w", err)
				}
				k, err := tron.ParsePrivateKey(strings.TrimSpace(string(raw)))
				if err != nil {
					return fmt.Errorf("--tron-key %s: %w", tronKey, err)
				}
				send = func(a billingclient.PaymentIntentAnswer) (string, error) {
					return payTron(cmd, a, k, tronURL, tronAPIKey)
				}
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			a, err := c.CreatePayment(cmd.Context(), billingclient.CreatePayment{TenantID: *tenant, InvoiceID: args[0], Token: string(tok)})
			if err != nil {
				return err
			}
			if send == nil {
				if f.json() {
					return writeJSON(m.Stdout, a)
				}
				return printPayInstructions(m.Stdout, a)
			}
			txID, err := send(a)
			if err != nil {
				return err
			}
			if !f.json() {
				fmt.Fprintf(m.Stdout, "sent %s %s for invoice %s (intent %s): transaction %s\n", a.AmountDisplay, tok, args[0], a.Intent.ID, txID)
			}
			deadline := time.Now().Add(wait)
			for {
				a, err = c.ConfirmPayment(cmd.Context(), *tenant, a.Intent.ID, txID)
				if err != nil && !billingclient.IsNotFound(err) {
					return err
				}
				if err == nil && a.Intent.Status != "pending" {
					break
				}
				if !time.Now().Before(deadline) {
					if !f.json() {
						fmt.Fprintf(m.Stdout, "not final yet; the service records it once the chain finalizes it (aerolith wallet status)\n")
					}
					return nil
				}
				select {
				case <-cmd.Context().Done():
					return cmd.Context().Err()
				case <-time.After(time.Second):
				}
			}
			if f.json() {
				return writeJSON(m.Stdout, a)
			}
			_, err = fmt.Fprintf(m.Stdout, "payment intent %s: %s (%s of %s)\n", a.Intent.ID, a.Intent.Status,
				formatCents(int64(a.Intent.PaidCents)), formatCents(int64(a.Intent.AmountCents)))
			return err
		},
	}
	c.Flags().StringVar(&token, "token", "USDC", "token to pay in: SOL, USDC (Solana), TRX or USDT (Tron)")
	c.Flags().StringVar(&keypair, "keypair", "", "Solana keypair file (solana-keygen JSON): build, sign and send the transfer from it")
	c.Flags().StringVar(&tronKey, "tron-key", "", "file holding a Tron private key in hex: build, sign and send the transfer from it")
	c.Flags().StringVar(&rpcURL, "solana-rpc-url", "", "Solana RPC --keypair sends to (env "+envSolanaRPC+", default mainnet's public endpoint)")
	c.Flags().StringVar(&tronURL, "tron-api-url", "", "TronGrid or node HTTP API --tron-key sends through (env "+envTronAPI+", default mainnet's TronGrid)")
	c.Flags().StringVar(&tronAPIKey, "tron-api-key", "", "TronGrid API key (env "+envTronAPIKey+")")
	c.Flags().DurationVar(&wait, "wait", time.Minute, "with --keypair or --tron-key, how long to wait for the transfer to be final and recorded")
	return apiFields(c, "token", "--token", "invoice_id", "INVOICE_ID")
}

// Environment of `wallet pay --tron-key`.
const (
	envTronAPI    = "AEROLITH_TRON_API_URL"
	envTronAPIKey = "AEROLITH_TRON_API_KEY"
)

// trxFeeLimit caps the TRX a USDT transfer may burn for energy.
const trxFeeLimit = 100_000_000

// paySolana sends the intent's Solana Pay transfer from payer.
func paySolana(cmd *cobra.Command, a billingclient.PaymentIntentAnswer, tok payment.Token, payer sol.PrivateKey, rpcURL string) (string, error) {
	if rpcURL == "" {
		rpcURL = os.Getenv(envSolanaRPC)
	}
	if rpcURL == "" {
		rpcURL = payment.DefaultConfig(payment.Mainnet).Solana.RPCURL
	}
	req, err := solana.ParseTransferRequest(a.SolanaPayURL, func(sol.PublicKey) (uint8, error) { return tok.Decimals(), nil })
	if err != nil {
		return "", fmt.Errorf("the service's transfer request: %w", err)
	}
	sig, err := solana.Pay(cmd.Context(), rpc.New(rpcURL), req, payer)
	if err != nil {
		return "", err
	}
	return sig.String(), nil
}

// payTron sends exactly the intent's amount to its Tron address from key:
// a TRX transfer or a USDT-TRC20 transfer, built by the node, checked,
// signed here and broadcast.
func payTron(cmd *cobra.Command, a billingclient.PaymentIntentAnswer, key *secp256k1.PrivateKey, apiURL, apiKey string) (string, error) {
	if apiURL == "" {
		apiURL = os.Getenv(envTronAPI)
	}
	if apiURL == "" {
		apiURL = tron.Mainnet.DefaultURL()
	}
	if apiKey == "" {
		apiKey = os.Getenv(envTronAPIKey)
	}
	tc, err := tron.NewClient(tron.ClientConfig{URL: apiURL, APIKey: apiKey, Timeout: 30 * time.Second})
	if err != nil {
		return "", usageError{fmt.Errorf("--tron-api-url: %w", err)}
	}
	to, err := tron.ParseAddress(a.TronAddress)
	if err != nil {
		return "", fmt.Errorf("the service's tron address: %w", err)
	}
	from := tron.PublicKeyAddress(key.PubKey())
	amount := new(big.Int).SetUint64(a.Intent.Amount)
	var tx *tron.Transaction
	if a.Intent.Token == payment.TRX {
		tx, err = tc.CreateTransfer(cmd.Context(), from, to, int64(a.Intent.Amount))
	} else {
		contract, cerr := tron.ParseAddress(a.TokenAddress)
		if cerr != nil {
			return "", fmt.Errorf("the service's usdt contract %q: %w", a.TokenAddress, cerr)
		}
		tx, err = tc.CreateTRC20Transfer(cmd.Context(), from, contract, to, amount, trxFeeLimit)
	}
	if err != nil {
		return "", err
	}
	tx.Sign(key)
	if err := tc.Broadcast(cmd.Context(), tx); err != nil {
		return "", err
	}
	return tx.ID, nil
}

// printPayInstructions prints how to pay an intent: the Solana Pay URL
// and its QR code, or the Tron address and exact amount.
func printPayInstructions(w io.Writer, a billingclient.PaymentIntentAnswer) error {
	in := a.Intent
	fmt.Fprintf(w, "payment intent %s for invoice %s: %s %s (%s), quote valid until %s\n", in.ID, in.InvoiceID, a.AmountDisplay, in.Token,
		formatCents(int64(in.AmountCents)), billingTime(a.ExpiresAt))
	if a.SolanaPayURL != "" {
		fmt.Fprintf(w, "scan with a Solana Pay wallet, or open:\n%s\n", a.SolanaPayURL)
		if err := writeQR(w, a.SolanaPayURL); err != nil {
			return err
		}
	}
	if a.TronAddress != "" {
		fmt.Fprintf(w, "send exactly %s %s (every digit: the amount identifies this payment) to %s\n", a.AmountDisplay, in.Token, a.TronAddress)
	}
	_, err := fmt.Fprintf(w, "checkout page: %s\n", a.CheckoutURL)
	return err
}

// writeQR renders text as a QR code with half-block characters: each
// line of output holds two rows of modules, dark on the terminal's light
// quiet zone (4 modules around, as the standard asks).
func writeQR(w io.Writer, text string) error {
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		return fmt.Errorf("qr code: %w", err)
	}
	const quiet = 4
	dark := func(x, y int) bool {
		x, y = x-quiet, y-quiet
		return x >= 0 && y >= 0 && x < code.Size && y < code.Size && code.Black(x, y)
	}
	n := code.Size + 2*quiet
	var b strings.Builder
	for y := 0; y < n; y += 2 {
		for x := 0; x < n; x++ {
			top, bottom := dark(x, y), y+1 < n && dark(x, y+1)
			switch {
			case top && bottom:
				b.WriteRune(' ')
			case top:
				b.WriteRune('▄')
			case bottom:
				b.WriteRune('▀')
			default:
				b.WriteRune('█')
			}
		}
		b.WriteByte('\n')
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// newWalletHistoryCommand builds `aerolith wallet history`.
func newWalletHistoryCommand(m *Main, f *billingFlags, tenant *string) *cobra.Command {
	return &cobra.Command{
		Use:   "history",
		Short: "List payment intents and the transfers seen for them",
		Args:  argsBetween(0, 0, "(none)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			h, err := c.PaymentHistory(cmd.Context(), *tenant)
			if err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, h.Intents)
			}
			return printIntents(m.Stdout, h.Intents)
		},
	}
}

func printIntents(w io.Writer, ins []billingclient.PaymentIntent) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "INTENT\tINVOICE\tCREATED\tTOKEN\tAMOUNT\tSTATUS\tPAID\tTRANSFERS")
	for _, in := range ins {
		var txs []string
		for _, t := range in.Transfers {
			txs = append(txs, t.TxID+" "+string(t.Outcome.Status))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", in.ID, in.InvoiceID, billingTime(in.Created), in.Token,
			payment.FormatUnits(in.Amount, in.Token.Decimals()), in.Status, formatCents(int64(in.PaidCents)), strings.Join(txs, ", "))
	}
	return tw.Flush()
}

// newWalletDisconnectCommand builds `aerolith wallet disconnect`.
func newWalletDisconnectCommand(m *Main, f *billingFlags, tenant *string) *cobra.Command {
	var chain string
	c := &cobra.Command{
		Use:   "disconnect ADDRESS",
		Short: "Disconnect a wallet from the tenant",
		Args:  argsBetween(1, 1, "ADDRESS"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if chain == "" {
				chain = "solana"
				if strings.HasPrefix(args[0], "T") && len(args[0]) == 34 {
					chain = "tron"
				}
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			w, err := c.DisconnectWallet(cmd.Context(), *tenant, chain, args[0])
			if err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, w)
			}
			_, err = fmt.Fprintf(m.Stdout, "disconnected %s wallet %s from tenant %s\n", w.Chain, w.Address, w.TenantID)
			return err
		},
	}
	c.Flags().StringVar(&chain, "chain", "", "the wallet's chain, solana or tron (default: from the address's form)")
	return apiFields(c, "chain", "--chain", "address", "ADDRESS")
}

// newWalletStatusCommand builds `aerolith wallet status`.
func newWalletStatusCommand(m *Main, f *billingFlags, tenant *string) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the connected wallets and the payment intents still pending",
		Args:  argsBetween(0, 0, "(none)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			h, err := c.PaymentHistory(cmd.Context(), *tenant)
			if err != nil {
				return err
			}
			var pending []billingclient.PaymentIntent
			for _, in := range h.Intents {
				if in.Status == "pending" || in.Status == "underpaid" {
					pending = append(pending, in)
				}
			}
			if f.json() {
				if pending == nil {
					pending = []billingclient.PaymentIntent{}
				}
				return writeJSON(m.Stdout, map[string]any{"tenant_id": h.TenantID, "wallets": h.Wallets, "pending": pending})
			}
			if len(h.Wallets) == 0 {
				fmt.Fprintf(m.Stdout, "tenant %s: no wallet connected (aerolith wallet connect)\n", h.TenantID)
			}
			for _, w := range h.Wallets {
				fmt.Fprintf(m.Stdout, "tenant %s: %s wallet %s connected at %s\n", h.TenantID, w.Chain, w.Address, billingTime(w.ConnectedAt))
			}
			if len(pending) == 0 {
				_, err := fmt.Fprintln(m.Stdout, "no pending payment intents")
				return err
			}
			fmt.Fprintln(m.Stdout, "pending payment intents:")
			return printIntents(m.Stdout, pending)
		},
	}
}
