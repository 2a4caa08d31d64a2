/**
 * Object identifiers of CoconutPay's certificate profiles. The private arc is a
 * UUID-derived OID (ITU-T X.667, `2.25.<uuid as integer>`), which needs no registration
 * and cannot collide with anyone else's.
 */

/** The CoconutPay arc: 2.25 + UUID 8c9d6cad-90d7-44c8-bfbb-54fe0af71e1e. */
export const COCONUTPAY_ARC = '2.25.186909314268213584781924681127864770078';

/** Extended key usages (RFC 5280 §4.2.1.12). */
export const EKU = {
  /** Signs payment commands. */
  paymentSigning: `${COCONUTPAY_ARC}.1.1`,
  /** Signs receipts (sellers). */
  receiptSigning: `${COCONUTPAY_ARC}.1.2`,
  /** Approves a new device of the same user (master certificates only). */
  deviceApproval: `${COCONUTPAY_ARC}.1.3`,
  /** Signs payment commands (COM) for the application server A (seed 004 §3.3). */
  commandIssuing: `${COCONUTPAY_ARC}.1.4`,
  /** Signs what the authentication server S asserts to the browser (mutual authentication). */
  sessionAuthority: `${COCONUTPAY_ARC}.1.5`,
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
  /** id-kp-timeStamping: signs RFC 3161 time-stamp tokens; must be the only EKU and critical (RFC 3161 §2.3). */
  timeStamping: '1.3.6.1.5.5.7.3.8',
  any: '2.5.29.37.0',
} as const;

/** Private certificate extensions (always non-critical, so other software may ignore them). */
export const EXTENSION = {
  /** UTF8String `master` or `additional`. */
  certificateKind: `${COCONUTPAY_ARC}.2.1`,
  /** On an additional certificate: the approval the master device signed (see docs/pki.md). */
  masterApproval: `${COCONUTPAY_ARC}.2.2`,
} as const;

/** Policies under which CoconutPay signs. */
export const POLICY = {
  /**
   * The time-stamp authority's TSA policy (RFC 3161 §2.4.2 TSAPolicyId): genTime from
   * the payment server's clock, accuracy 1 second, no ordering; see docs/pki.md.
   */
  timeStamping: `${COCONUTPAY_ARC}.3.1`,
} as const;

/** Standard OIDs used by the validator and the CA. */
export const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  prime256v1: '1.2.840.10045.3.1.7',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  nameConstraints: '2.5.29.30',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  crlDistributionPoints: '2.5.29.31',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  certificatePolicies: '2.5.29.32',
  policyConstraints: '2.5.29.36',
  inhibitAnyPolicy: '2.5.29.54',
  policyMappings: '2.5.29.33',
  crlNumber: '2.5.29.20',
  ocspNoCheck: '1.3.6.1.5.5.7.48.1.5',
  ocspNonce: '1.3.6.1.5.5.7.48.1.2',
} as const;
