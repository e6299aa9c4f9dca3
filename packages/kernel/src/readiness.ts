// Truthful readiness from named probes (SPEC §1.1). A probe is a function so it is always current.

export type Probe = () => boolean;

export interface ReadinessReport {
  ready: boolean;
  probes: Record<string, boolean>;
  failing: string[];
  mode: 'truthful' | 'dev-forced';
}

export class Readiness {
  readonly #probes = new Map<string, Probe>();
  readonly #devForced: boolean;
  #shuttingDown = false;
  /** Bumped whenever the probe set changes (part of {@link signature}). */
  #version = 0;

  constructor(opts: { devForced?: boolean } = {}) {
    this.#devForced = opts.devForced ?? false;
  }

  /** Adds or replaces a probe. A boolean is a fixed probe; use `flag()` for a settable one. */
  probe(name: string, fn: Probe): this {
    this.#probes.set(name, fn);
    this.#version++;
    return this;
  }

  /** A probe backed by a settable flag; returns the setter. */
  flag(name: string, initial = false): (v: boolean) => void {
    let v = initial;
    this.#probes.set(name, () => v);
    this.#version++;
    return (nv: boolean) => {
      v = nv;
    };
  }

  get devForced(): boolean {
    return this.#devForced;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Called first thing on SIGTERM/SIGINT: readiness flips before anything stops. */
  markShuttingDown(): void {
    this.#shuttingDown = true;
  }

  /**
   * Every probe's current result in one short string (with the mode, shutdown state and probe-set
   * version): equal signatures mean equal {@link check} reports, so a caller can reuse the body it
   * rendered last time. Probes are still run on every call.
   */
  signature(): string {
    let s = this.#signaturePrefix();
    for (const fn of this.#probes.values()) {
      let ok = false;
      try {
        ok = fn();
      } catch {
        ok = false;
      }
      s += ok ? '1' : '0';
    }
    return s;
  }

  /** The {@link signature} a report was taken under (for caching what was rendered from it). */
  signatureOf(r: ReadinessReport): string {
    let s = this.#signaturePrefix();
    for (const name of this.#probes.keys()) s += r.probes[name] === true ? '1' : '0';
    return s;
  }

  #signaturePrefix(): string {
    return `${this.#version}${this.#shuttingDown ? 'S' : this.#devForced ? 'D' : 'T'}`;
  }

  check(): ReadinessReport {
    const probes: Record<string, boolean> = {};
    const failing: string[] = [];
    for (const [name, fn] of this.#probes) {
      let ok = false;
      try {
        ok = fn();
      } catch {
        ok = false;
      }
      probes[name] = ok;
      if (!ok) failing.push(name);
    }
    if (this.#shuttingDown) failing.push('shutting_down');
    const mode = this.#devForced ? 'dev-forced' : 'truthful';
    // The dev override forces 200 but still reports what is failing; shutdown always wins.
    const ready = this.#shuttingDown ? false : this.#devForced || failing.length === 0;
    return { ready, probes, failing, mode };
  }
}
