/** A countdown to a moment, ticking once a second while the component lives. */
import { computed, onBeforeUnmount, ref, type ComputedRef, type Ref } from 'vue';

/** Whole seconds as `m:ss` (or `h:mm:ss` from an hour on); never negative. */
export function formatRemaining(remainingMs: number): string {
  const total = Math.max(0, Math.ceil(remainingMs / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}

/** What {@link useCountdown} returns. */
export interface Countdown {
  remainingMs: ComputedRef<number>;
  /** `m:ss` */
  text: ComputedRef<string>;
  over: ComputedRef<boolean>;
}

/**
 * Counts down to `targetMs` (epoch milliseconds). The interval stops when the
 * component unmounts.
 *
 * @example
 * const { text, over } = useCountdown(computed(() => request.expiresAtMs));
 */
export function useCountdown(targetMs: Ref<number>): Countdown {
  const nowMs = ref(Date.now());
  const timer = setInterval(() => (nowMs.value = Date.now()), 1000);
  onBeforeUnmount(() => clearInterval(timer));
  const remainingMs = computed(() => Math.max(0, targetMs.value - nowMs.value));
  return { remainingMs, text: computed(() => formatRemaining(remainingMs.value)), over: computed(() => remainingMs.value <= 0) };
}
