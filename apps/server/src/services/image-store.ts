/**
 * Product images on disk under `<DATA_DIR>/images`. File names are made here
 * (a random id plus the extension of the sniffed type); nothing from the client
 * ever becomes part of a path.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ImageType } from '@coconutpay/core/catalogue';

const EXTENSIONS: Record<ImageType, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp' };
const FILE_NAME = /^[0-9a-f-]{36}\.(png|jpg|webp)$/;

export class ImageStore {
  private readonly dir: string;

  constructor(dataDir: string) {
    this.dir = path.join(dataDir, 'images');
    mkdirSync(this.dir, { recursive: true });
  }

  /** Writes the image atomically and returns its new file name. */
  async save(bytes: Uint8Array, type: ImageType): Promise<string> {
    const name = `${randomUUID()}.${EXTENSIONS[type]}`;
    const target = path.join(this.dir, name);
    await writeFile(`${target}.tmp`, bytes, { mode: 0o640 });
    await rename(`${target}.tmp`, target);
    return name;
  }

  async read(name: string): Promise<Buffer> {
    if (!FILE_NAME.test(name)) throw new Error('invalid image file name');
    return readFile(path.join(this.dir, name));
  }

  /** Removes a replaced image; a missing file is not an error. */
  async remove(name: string): Promise<void> {
    if (!FILE_NAME.test(name)) return;
    await unlink(path.join(this.dir, name)).catch(() => undefined);
  }
}
