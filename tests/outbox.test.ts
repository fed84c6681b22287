import { connect } from 'node:net';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOutbox, type Outbox } from '../scripts/outbox';

describe('the embedded SMTP outbox', () => {
  let outbox: Outbox;
  beforeAll(async () => {
    outbox = await startOutbox();
  });
  afterAll(async () => outbox?.close());

  it('outlives a client that resets its connection mid-transaction (a worker killed while sending) and takes the next email', async () => {
    await new Promise<void>((resolve, reject) => {
      const socket = connect(outbox.port, '127.0.0.1');
      socket.once('data', () => {
        // Killed mid-transaction: after MAIL FROM, a reset, as the kernel sends for a process killed with the socket open.
        socket.write('EHLO killed.example\r\nMAIL FROM:<a@example.com>\r\n');
        setTimeout(() => (socket.resetAndDestroy(), resolve()), 100);
      });
      socket.once('error', reject);
    });
    await new Promise((resolve) => setTimeout(resolve, 100));

    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: outbox.port, secure: false, ignoreTLS: true });
    await transport.sendMail({ from: 'a@example.com', to: 'after@example.com', subject: 'still here', text: 'x' });
    expect(outbox.messages.map((m) => m.to)).toEqual([['after@example.com']]);
  });
});
