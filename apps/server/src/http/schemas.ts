/**
 * Request and response schemas (JSON Schema via TypeBox). The same objects validate
 * requests, shape responses and generate the OpenAPI document at /openapi.json.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { CATEGORIES, PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX, PRODUCT_DESCRIPTION_LENGTH_MAX, PRODUCT_NAME_LENGTH_MAX, PRODUCT_SORTS, PRODUCT_STOCK_MAX, CART_QUANTITY_MAX } from '@coconutpay/core/catalogue';
import { ERROR_CODES } from '@coconutpay/core/errors';
import { PRICE_MAX_WON } from '@coconutpay/core/money';

const literalUnion = <T extends readonly string[]>(values: T, options: Record<string, unknown> = {}) =>
  Type.Union(values.map((v) => Type.Literal(v)), options);

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    code: literalUnion(ERROR_CODES),
    errors: Type.Optional(Type.Array(Type.Object({ pointer: Type.String(), code: Type.String() }))),
    lock: Type.Optional(Type.Object(
      {
        reason: literalUnion(['login-failures', 'address-failures', 'payment-failures'] as const),
        untilMs: Type.Integer({ description: 'When the lock ends by itself (ms since the epoch)' }),
        failuresMax: Type.Integer(),
        certificatePasses: Type.Boolean({ description: "A device holding one of the account's certificates may pass it (login only)" }),
        contact: Type.Optional(Type.String({ description: 'Whom to contact if it was not you' })),
      },
      { description: 'Why something is locked and until when (LOGIN_THROTTLED, LOGIN_ADDRESS_THROTTLED, PAYMENT_LOCKED)' },
    )),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details with a stable code (docs/errors.md)' },
);

/** Response entries every route shares: problem documents for 4xx and 5xx. */
export const problemResponses = {
  '4xx': Type.Ref(Problem),
  '5xx': Type.Ref(Problem),
};

/** Adds the problem responses to a route's own ones. */
export function responses(own: Record<number, TSchema>): Record<string, TSchema> {
  return { ...own, ...problemResponses };
}

export const Id = Type.String({ format: 'uuid', maxLength: 36 });
export const IdParams = Type.Object({ id: Id }, { additionalProperties: false });
export const ProductIdParams = Type.Object({ productId: Id }, { additionalProperties: false });

const LoginId = Type.String({ pattern: '^[a-z0-9][a-z0-9_.-]{3,31}$', description: '4-32 lower-case letters, digits, _ . -' });
const Password = Type.String({ minLength: 1, maxLength: 128 });
export const Phone = Type.String({ pattern: '^[0-9+() -]{7,20}$' });
export const Text100 = Type.String({ minLength: 1, maxLength: 100 });
export const Text200 = Type.String({ minLength: 1, maxLength: 200 });

export const StoreProfile = Type.Object(
  {
    storeName: Text100,
    businessNumber: Type.String({ pattern: '^[0-9]{3}-[0-9]{2}-[0-9]{5}$', description: 'Korean business registration number, 123-45-67890' }),
    storeAddress: Text200,
    representative: Text100,
    storePhone: Phone,
  },
  { additionalProperties: false },
);

export const RegisterBody = Type.Object(
  {
    role: literalUnion(['buyer', 'seller'] as const),
    loginId: LoginId,
    password: Password,
    name: Text100,
    phone: Phone,
    address: Text200,
    email: Type.String({ format: 'email', maxLength: 254 }),
    store: Type.Optional(StoreProfile),
  },
  { additionalProperties: false },
);

export const LoginBody = Type.Object(
  {
    loginId: Type.String({ minLength: 1, maxLength: 64 }),
    password: Password,
    clientNonce: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$', description: 'A fresh nonce the server (S) signs back: mutual authentication' })),
    certificateProof: Type.Optional(
      Type.Object(
        {
          certificateId: Type.String({ format: 'uuid' }),
          challengeId: Type.String({ format: 'uuid' }),
          signature: Type.String({ pattern: '^[A-Za-z0-9_-]{40,200}$', description: 'base64url IEEE P1363 ECDSA-SHA256 over `coconutpay-login-proof\\n<challengeId>\\n<loginId>\\n<challenge>`' }),
        },
        { additionalProperties: false, description: "This device holds one of the user's certificates: lets the login pass the per-account lock (docs/protocol.md, \"Login\")" },
      ),
    ),
  },
  { additionalProperties: false },
);

export const LoginChallengeBody = Type.Object({ loginId: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
export const LoginChallengeResponse = Type.Object({ challengeId: Type.String(), challenge: Type.String(), expiresAtMs: Type.Integer() });

export const ChangePasswordBody = Type.Object({ currentPassword: Password, newPassword: Password }, { additionalProperties: false });

export const User = Type.Object(
  {
    id: Type.String(),
    loginId: Type.String(),
    role: literalUnion(['buyer', 'seller', 'admin'] as const),
    name: Type.String(),
    phone: Type.String(),
    address: Type.String(),
    email: Type.String(),
    store: Type.Union([StoreProfile, Type.Null()]),
    createdAtMs: Type.Integer(),
  },
  { $id: 'User' },
);

export const LoginResponse = Type.Object({
  publicToken: Type.String({ description: 't_p: the server-MACed session statement (a JWT)' }),
  secretToken: Type.String({ description: 't_s = HMAC(K, t_p), base64url; sent once, never again' }),
  sessionId: Type.String(),
  expiresAtMs: Type.Integer(),
  idleTimeoutMs: Type.Integer(),
  user: Type.Ref(User),
  serverAssertion: Type.String({ description: "S's JWS (x5c to our root) over the client nonce, session and SHA-256 of t_p (docs/protocol.md)" }),
});

export const MeResponse = Type.Object({ user: Type.Ref(User), walletBalanceWon: Type.Union([Type.Integer(), Type.Null()]) });

const Category = literalUnion(CATEGORIES);
const PriceWon = Type.Integer({ minimum: 1, maximum: Number(PRICE_MAX_WON) });
const Stock = Type.Integer({ minimum: 0, maximum: PRODUCT_STOCK_MAX });
const ProductName = Type.String({ minLength: 1, maxLength: PRODUCT_NAME_LENGTH_MAX });
const Description = Type.String({ maxLength: PRODUCT_DESCRIPTION_LENGTH_MAX });

export const ProductSummary = Type.Object({
  id: Type.String(),
  name: Type.String(),
  category: Type.String(),
  priceWon: Type.Integer(),
  stock: Type.Integer(),
  imageUrl: Type.Union([Type.String(), Type.Null()]),
  sellerId: Type.String(),
  storeName: Type.String(),
});

export const Product = Type.Object(
  {
    ...ProductSummary.properties,
    description: Type.String(),
    hidden: Type.Boolean(),
    createdAtMs: Type.Integer(),
    updatedAtMs: Type.Integer(),
  },
  { $id: 'Product' },
);

export const ProductPage = Type.Object({
  items: Type.Array(ProductSummary),
  page: Type.Integer(),
  pageSize: Type.Integer(),
  total: Type.Integer(),
});

export const OwnProductPage = Type.Object({
  items: Type.Array(Type.Ref(Product)),
  page: Type.Integer(),
  pageSize: Type.Integer(),
  total: Type.Integer(),
});

export const ProductListQuery = Type.Object(
  {
    page: Type.Integer({ minimum: 1, maximum: 10_000, default: 1 }),
    pageSize: Type.Integer({ minimum: 1, maximum: PAGE_SIZE_MAX, default: PAGE_SIZE_DEFAULT }),
    q: Type.Optional(Type.String({ maxLength: 100 })),
    category: Type.Optional(Category),
    sort: literalUnion(PRODUCT_SORTS, { default: 'newest' }),
  },
  { additionalProperties: false },
);

export const PageQuery = Type.Object(
  {
    page: Type.Integer({ minimum: 1, maximum: 10_000, default: 1 }),
    pageSize: Type.Integer({ minimum: 1, maximum: PAGE_SIZE_MAX, default: PAGE_SIZE_DEFAULT }),
  },
  { additionalProperties: false },
);

export const CreateProductBody = Type.Object(
  { name: ProductName, category: Category, description: Description, priceWon: PriceWon, stock: Stock },
  { additionalProperties: false },
);

export const UpdateProductBody = Type.Object(
  {
    name: Type.Optional(ProductName),
    category: Type.Optional(Category),
    description: Type.Optional(Description),
    priceWon: Type.Optional(PriceWon),
    stock: Type.Optional(Stock),
    hidden: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);

/** A raw binary body (an uploaded image): documented, and checked by content in the service. */
export const RawBytesBody = Type.Unsafe<Buffer>({ type: 'string', format: 'binary', 'x-raw-bytes': true, description: 'PNG, JPEG or WebP bytes, at most 2 MiB' });

export const SetCartQuantityBody = Type.Object({ quantity: Type.Integer({ minimum: 1, maximum: CART_QUANTITY_MAX }) }, { additionalProperties: false });

export const Cart = Type.Object({
  items: Type.Array(
    Type.Object({
      productId: Type.String(),
      name: Type.String(),
      sellerId: Type.String({ description: 'An order holds one store’s products: the checkout groups lines by seller' }),
      storeName: Type.String(),
      unitPriceWon: Type.Integer(),
      quantity: Type.Integer(),
      lineTotalWon: Type.Integer(),
      stock: Type.Integer(),
      available: Type.Boolean(),
      imageUrl: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
  totalWon: Type.Integer(),
});

export const Health = Type.Object({ status: literalUnion(['ok', 'degraded'] as const), database: literalUnion(['ok', 'down'] as const), version: Type.String() });

/** Schemas registered once with `addSchema` so routes can `$ref` them. */
export const sharedSchemas = [Problem, User, Product];
