/**
 * `coconutpay --help`: what the CLI can do.
 */

/** The help text printed by `coconutpay --help`. */
export const HELP_TEXT = `coconutpay — CoconutPay command line

Usage:
  coconutpay cert verify --trust ca.pem --chain chain.pem [--crl f.crl]... [--at ISO-TIME] [--purpose PURPOSE]
      Validates a certificate path (RFC 5280 §6.1) and prints a JSON verdict.
      --trust    PEM file with one or more trusted CA certificates
      --chain    PEM file: the leaf certificate first, then intermediates
      --crl      a CRL file, PEM or DER (repeatable)
      --at       validation time, ISO 8601 (default: now)
      --purpose  payment | receipt | issuing | deviceApproval | ocsp | serverAuth | clientAuth | any (default: payment)
      Exit code: 0 valid, 1 invalid, 2 usage error.

  coconutpay verify FILE (--ca root.pem | --online URL) [--crl current.crl]... [--status-at ISO-TIME] [--order ORDER-NUMBER]
      Checks payment evidence or a seller-signed receipt (.p7s, CMS SignedData, DER or PEM; the
      signed content says which) offline, check by check, and prints a JSON verdict.
      Payment evidence: signature, signing-certificate attribute, the payment server's signature on
      the command, that the signer is the payer (and a device's master approval), signing time and
      time-stamp within the command's validity, the chains valid at the time-stamp's time with the
      revocation data the file carries; the payment's details.
      Receipt (e.g. coconutpay verify receipt.p7s --ca root.pem): signature, signing-certificate
      attribute, that the signer is the store's seller, our time-stamp, the chain valid at the
      time-stamp's time with the CRLs the file carries; the store, lines, total, the receipt
      signature value and the chain with each certificate's status.
      --ca       the CoconutPay root certificate, PEM (--trust is the same option)
      --crl      a current CRL, PEM or DER (repeatable): reports the signer's status today
      --status-at  the time the status is judged at (default: now), ISO 8601
      --order    the order number the evidence must be about (evidence only)
      --online   the CoconutPay server's URL: adds its verdict (live revocation status, its
                 records); without --ca the root is fetched from URL/pki/root.pem (the output says so)
      Exit code: 0 valid (with --online: both verdicts), 1 invalid, 2 usage error.

  coconutpay audit verify (--export FILE.jsonl | --online URL) [--ca root.pem] [--token-file FILE]
      Recomputes the audit log's hash chain, checks the server's signed heads against it and
      prints a JSON verdict; on a deleted, edited or moved entry it names the first bad one
      (problem.sequence). See docs/admin.md.
      --export      a JSON-lines export of the log (entries, then signed heads)
      --online      the CoconutPay server's URL: reads the log from URL/admin/api/audit/export
                    with the audit export token; without --ca the root comes from URL/pki/root.pem
      --ca          the CoconutPay root certificate, PEM: each head's signature must verify to it
                    (without it, offline, heads are compared but not trusted; the output says so)
      --token-file  a file holding the audit export token (else COCONUTPAY_AUDIT_TOKEN)
      Exit code: 0 valid, 1 invalid, 2 usage error.

  coconutpay x509 limbo-harness < limbo.json > results.json
      Runs an x509-limbo suite through the validator (harness protocol version 1).

  coconutpay --help
      Shows this text.
`;

/** Prints the help text. */
export function runHelp(write: (text: string) => void): number {
  write(HELP_TEXT);
  return 0;
}
