/**
 * Demo data for the quick start: two sellers (one the brief's store JOONGBU), a dozen
 * products with pictures drawn here, and two buyers with wallet balances. Seeded only
 * into an empty embedded database; passwords are listed in the README.
 */
import type { Category } from '@coconutpay/core/catalogue';
import type { LedgerRepository } from '../db/ledger-repository.js';
import type { AccountsService } from './accounts.js';
import type { CatalogueService } from './catalogue.js';
import { drawProductPicture, type Shape } from './png-image.js';

/** Demo accounts; the README lists the same ids and passwords. */
export const DEMO_ACCOUNTS = {
  sellers: [
    { loginId: 'joongbu', password: 'joongbu-demo-2019', name: '김중부', store: { storeName: 'JOONGBU', businessNumber: '214-86-12345', storeAddress: '서울특별시 중구 퇴계로 100', representative: '김중부', storePhone: '02-2260-3114' } },
    { loginId: 'coconut-mart', password: 'coconut-demo-2026', name: '이코코', store: { storeName: '코코넛 마트', businessNumber: '120-81-54321', storeAddress: '부산광역시 해운대구 센텀중앙로 79', representative: '이코코', storePhone: '051-700-1234' } },
  ],
  buyers: [
    { loginId: 'buyer1', password: 'buyer1-demo-pass', name: '박구매', balanceWon: 3_000_000n },
    { loginId: 'buyer2', password: 'buyer2-demo-pass', name: '최지갑', balanceWon: 500_000n },
  ],
} as const;

const PRODUCTS: { seller: 0 | 1; name: string; category: Category; priceWon: bigint; stock: number; hue: number; shape: Shape; description: string }[] = [
  { seller: 0, name: '노트북 JB-15 Pro', category: 'electronics', priceWon: 800_000n, stock: 12, hue: 210, shape: 'square', description: '15인치 화면, 16GB 메모리, 512GB SSD. 가볍고 배터리가 오래 갑니다.' },
  { seller: 0, name: '무선 이어폰 Buds', category: 'electronics', priceWon: 89_000n, stock: 40, hue: 190, shape: 'circle', description: '노이즈 캔슬링, 최대 24시간 재생.' },
  { seller: 0, name: '스마트 워치 S2', category: 'electronics', priceWon: 159_000n, stock: 25, hue: 260, shape: 'ring', description: '심박수와 수면을 기록하는 방수 스마트 워치.' },
  { seller: 0, name: '기계식 키보드', category: 'electronics', priceWon: 129_000n, stock: 18, hue: 230, shape: 'stripes', description: '갈축 스위치, 한글 각인, USB-C.' },
  { seller: 0, name: '프로그래밍 입문서', category: 'books', priceWon: 32_000n, stock: 60, hue: 30, shape: 'square', description: '처음 코딩을 배우는 사람을 위한 따라하기 책.' },
  { seller: 0, name: '캠퍼스 후드티', category: 'fashion', priceWon: 45_000n, stock: 50, hue: 0, shape: 'triangle', description: '도톰한 기모 안감, 남녀공용 사이즈.' },
  { seller: 1, name: '제주 감귤 5kg', category: 'food', priceWon: 27_900n, stock: 100, hue: 35, shape: 'circle', description: '산지에서 바로 보내는 새콤달콤한 감귤.' },
  { seller: 1, name: '유기농 코코넛 오일', category: 'food', priceWon: 18_500n, stock: 80, hue: 90, shape: 'diamond', description: '냉압착 방식으로 만든 엑스트라 버진 코코넛 오일 500ml.' },
  { seller: 1, name: '수제 원목 도마', category: 'home', priceWon: 39_000n, stock: 30, hue: 25, shape: 'square', description: '호두나무 원목으로 만든 튼튼한 도마.' },
  { seller: 1, name: '보습 핸드크림 세트', category: 'beauty', priceWon: 21_000n, stock: 70, hue: 320, shape: 'ring', description: '시어버터 핸드크림 3종 세트.' },
  { seller: 1, name: '요가 매트 8mm', category: 'sports', priceWon: 34_000n, stock: 45, hue: 150, shape: 'stripes', description: '미끄럼 방지, 두께 8mm, 휴대용 끈 포함.' },
  { seller: 1, name: '스테인리스 텀블러', category: 'home', priceWon: 24_000n, stock: 0, hue: 180, shape: 'diamond', description: '보온 보냉 12시간. 현재 품절입니다.' },
];

export async function seedDemoData(accounts: AccountsService, catalogue: CatalogueService, ledger: LedgerRepository, nowMs: number): Promise<void> {
  const sellerActors = [];
  for (const s of DEMO_ACCOUNTS.sellers) {
    const user = await accounts.register({
      role: 'seller', loginId: s.loginId, password: s.password, name: s.name, phone: s.store.storePhone,
      address: s.store.storeAddress, email: `${s.loginId}@demo.coconutpay.test`, store: { ...s.store },
    });
    sellerActors.push({ userId: user.id, role: 'seller' as const, sessionId: 'demo-seed' });
  }
  // Listed newest first on the home page, so create them in reverse.
  for (const p of [...PRODUCTS].reverse()) {
    const actor = sellerActors[p.seller]!;
    const product = await catalogue.create(actor, { name: p.name, category: p.category, description: p.description, priceWon: p.priceWon, stock: p.stock });
    await catalogue.setImage(actor, product.id, drawProductPicture(p.hue, p.shape), 'image/png');
  }
  for (const b of DEMO_ACCOUNTS.buyers) {
    const user = await accounts.register({
      role: 'buyer', loginId: b.loginId, password: b.password, name: b.name, phone: '010-1234-5678',
      address: '서울특별시 종로구 세종대로 175', email: `${b.loginId}@demo.coconutpay.test`,
    });
    await ledger.fund(user.id, b.balanceWon, 'demo_grant', 'demo starting balance', nowMs);
  }
}
