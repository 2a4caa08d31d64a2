/**
 * Error state of one form: a message per field, a summary, and moving focus to
 * where the user has to act.
 */
import { nextTick, reactive, ref, type Ref } from 'vue';
import { ApiError } from '../api/client.js';
import { errorMessage, fieldErrorMessage, type MessageRef } from './use-message.js';

/** What {@link useFormErrors} returns. */
export interface FormErrors {
  /** Message per field path (`loginId`, `store.storeName`). */
  fields: Record<string, MessageRef | undefined>;
  /** The message at the top of the form, if any. */
  summary: Ref<MessageRef | null>;
  clear(): void;
  setField(field: string, message: MessageRef): void;
  /** Fills the state from a failed API call; field errors of unknown fields stay in the summary. */
  fromError(error: unknown): void;
  /** True when some field is marked. */
  hasFieldErrors(): boolean;
  /**
   * After the DOM updates, focuses the first invalid field in `form`, or else the
   * form's error summary (an element marked `data-error-summary`).
   */
  focusFirstInvalid(form: HTMLElement | null): Promise<void>;
}

/**
 * Creates the error state of a form whose fields are named `fieldNames`.
 *
 * @example
 * const errors = useFormErrors(['loginId', 'password']);
 * try { … } catch (e) { errors.fromError(e); await errors.focusFirstInvalid(formEl.value); }
 */
export function useFormErrors(fieldNames: readonly string[]): FormErrors {
  const fields = reactive<Record<string, MessageRef | undefined>>({});
  const summary = ref<MessageRef | null>(null);

  function clear(): void {
    for (const key of Object.keys(fields)) fields[key] = undefined;
    summary.value = null;
  }

  function setField(field: string, message: MessageRef): void {
    fields[field] = message;
  }

  function fromError(error: unknown): void {
    clear();
    summary.value = errorMessage(error);
    if (!(error instanceof ApiError)) return;
    for (const fieldError of error.fieldErrors) {
      if (fieldNames.includes(fieldError.field) && !fields[fieldError.field]) {
        fields[fieldError.field] = fieldErrorMessage(fieldError.code);
      }
    }
    // A refused password is about the password field even without a pointer.
    if (error.code === 'PASSWORD_POLICY_VIOLATED' && error.fieldErrors.length === 0) {
      const passwordField = fieldNames.find((name) => name === 'password' || name === 'newPassword');
      if (passwordField) fields[passwordField] = { key: 'errors.PASSWORD_POLICY_VIOLATED' };
    }
    if (error.code === 'CURRENT_PASSWORD_WRONG' && fieldNames.includes('currentPassword')) {
      fields.currentPassword = { key: 'errors.CURRENT_PASSWORD_WRONG' };
    }
  }

  function hasFieldErrors(): boolean {
    return Object.values(fields).some((message) => message !== undefined);
  }

  async function focusFirstInvalid(form: HTMLElement | null): Promise<void> {
    await nextTick();
    const invalid = form?.querySelector<HTMLElement>('[aria-invalid="true"]');
    if (invalid) invalid.focus();
    else form?.querySelector<HTMLElement>('[data-error-summary]')?.focus();
  }

  return { fields, summary, clear, setField, fromError, hasFieldErrors, focusFirstInvalid };
}
