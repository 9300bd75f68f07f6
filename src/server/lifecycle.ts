// The server's life as one visible state, and what each event does in each phase. The
// coordinator (coordinator.ts) moves through the phases; every event that can end the server
// comes here, and this class alone decides what happens. The table of phases and events is
// in docs/behaviour.md (Lifecycle); handle() and advance() are it, case by case.
//
// Binding and preparing never yield to the event loop, so in practice an event sent during
// them (a signal, a client's `terminate`) waits in the kernel and is seen early in starting;
// one that was noted anyway stops the server when starting is entered. A failure is a log
// write error, a worker that fails to start or dies, or an uncaught exception: the first one
// is printed at once and makes the exit code 1 whatever the phase.

export const PHASES = ["binding", "preparing", "starting", "serving", "stopping", "stopped"] as const;
export type Phase = (typeof PHASES)[number];

export type StopEvent = { kind: "terminate" } | { kind: "signal"; name: string } | { kind: "failure"; message: string };

export class Lifecycle {
  private current: Phase = "binding";
  private noted = false;
  private failure: string | undefined;

  /**
   * `stop` runs the shutdown; it is called once at most, after the phase became stopping.
   * `report` prints the first failure's message.
   */
  constructor(
    private readonly stop: () => void,
    private readonly report: (message: string) => void,
  ) {}

  get phase(): Phase {
    return this.current;
  }

  /** 0 after terminate or a signal; 1 once any failure happened. */
  get exitCode(): number {
    return this.failure === undefined ? 0 : 1;
  }

  /**
   * Moves on to the next phase of start-up (preparing, starting, serving). Returns false when
   * the server is stopping instead: a stop noted earlier begins here, or one already began.
   */
  advance(next: "preparing" | "starting" | "serving"): boolean {
    if (this.current === "stopping" || this.current === "stopped") return false;
    if (PHASES.indexOf(next) !== PHASES.indexOf(this.current) + 1) {
      throw new Error(`lifecycle: ${this.current} cannot be followed by ${next}`);
    }
    this.current = next;
    if (this.noted && next === "starting") {
      this.beginStop();
      return false;
    }
    return true;
  }

  /** The shutdown has finished. */
  finish(): void {
    this.current = "stopped";
  }

  /** An event that ends the server; what it does depends on the phase (the table in docs/behaviour.md). */
  handle(event: StopEvent): void {
    if (event.kind === "failure" && this.failure === undefined && this.current !== "stopped") {
      this.failure = event.message;
      this.report(event.message);
    }
    switch (this.current) {
      case "binding":
      case "preparing":
        this.noted = true;
        return;
      case "starting":
      case "serving":
        return this.beginStop();
      case "stopping":
      case "stopped":
        return;
    }
  }

  private beginStop() {
    this.current = "stopping";
    this.stop();
  }
}
