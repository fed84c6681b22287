import { Writable } from 'node:stream';

/** A stream that keeps what a CLI command writes, for tests that read its output. */
export class Captured extends Writable {
  text = '';
  _write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void) {
    this.text += String(chunk);
    done();
  }
}
