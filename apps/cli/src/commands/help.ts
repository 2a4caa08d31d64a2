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

  coconutpay verify FILE --trust root.pem
      Checks payment evidence (.p7s, CMS SignedData, DER or PEM) offline: the signature, the
      signer's chain at the signing time, a device's master approval, the server's signature
      on the payment command inside. Prints a JSON verdict with the payment's details.
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
