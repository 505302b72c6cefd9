import { AppError } from '@orrange/http';

/**
 * Bounds how many expensive tasks (password hashes) run at once, and how many may wait. A storm of
 * logins queues up to `waitingMax` and is refused beyond it, instead of exhausting memory and threads.
 */
export class Semaphore {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly concurrencyMax: number,
    private readonly waitingMax: number,
  ) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.running < this.concurrencyMax) {
      this.running += 1;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.waitingMax) {
      return Promise.reject(
        new AppError(503, 'SERVICE.BUSY', 'Too many sign-ins at once; try again shortly.', undefined, {
          'Retry-After': '1',
        }),
      );
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running -= 1;
  }
}
