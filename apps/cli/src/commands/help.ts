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

  coconutpay verify FILE --trust root.pem [--crl current.crl]... [--status-at ISO-TIME] [--order ORDER-NUMBER] [--online URL]
  coconutpay verify receipt.p7s [--ca root.pem] [--online URL]
      Checks a seller-signed receipt (the file says which it is): signature, signing-certificate
      attribute, that the signer is the store's seller, our time-stamp, and the chain valid at the
      time-stamp's time with the CRLs the file carries. Prints a JSON verdict with the store, the
      lines and total, the receipt signature value and the chain with each certificate's status.
      --ca       another name for --trust
      --online   the CoconutPay server's URL: adds its verdict (live revocation status, its records);
                 without --ca the root is fetched from URL/pki/root.pem (the output says so)
  coconutpay verify FILE --trust root.pem …
      Checks payment evidence (.p7s, CMS SignedData, DER or PEM) offline, check by check:
      signature, signing-certificate attribute, the payment server's signature on the command,
      that the signer is the payer (and a device's master approval), signing time and
      time-stamp within the command's validity, and the chains valid at the time-stamp's time
      with the revocation data the file carries. Prints a JSON verdict with the payment's details.
      --crl      a current CRL, PEM or DER (repeatable): reports the signer's status today
      --status-at  the time the status is judged at (default: now), ISO 8601
      --order    the order number the evidence must be about
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
