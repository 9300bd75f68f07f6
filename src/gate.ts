// Admission and the stop flag, in an Int32Array that every serving thread can see: at most
// maxClients connections are admitted across all threads, and once one thread begins the
// shutdown, every thread ignores new bytes at once.

const ADMITTED = 0;
const STOPPED = 1;

export class Gate {
  /** Pass `cells` from another thread's gate to share it; a fresh, unshared one otherwise. */
  constructor(
    private readonly maxClients: number,
    readonly cells: Int32Array = new Int32Array(2),
  ) {}

  static shared(maxClients: number): Gate {
    return new Gate(maxClients, new Int32Array(new SharedArrayBuffer(8)));
  }

  /** Takes a client slot; false when all are taken or the server is stopping. */
  admit(): boolean {
    if (this.stopped) return false;
    if (Atomics.add(this.cells, ADMITTED, 1) < this.maxClients) return true;
    Atomics.sub(this.cells, ADMITTED, 1);
    return false;
  }

  release(): void {
    Atomics.sub(this.cells, ADMITTED, 1);
  }

  stop(): void {
    Atomics.store(this.cells, STOPPED, 1);
  }

  get stopped(): boolean {
    return Atomics.load(this.cells, STOPPED) === 1;
  }
}
