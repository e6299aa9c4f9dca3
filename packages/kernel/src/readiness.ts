// Truthful readiness from named probes (SPEC §1.1). A probe is a function so it is always current.

export type Probe = () => boolean;

export interface ReadinessReport {
  ready: boolean;
  probes: Record<string, boolean>;
  /** Failing probes that hold readiness down (critical ones, and `shutting_down`). */
  failing: string[];
  mode: 'truthful' | 'dev-forced';
}

export interface ProbeOptions {
  /**
   * Whether a failure holds readiness down (default true). A function is read on every check, so a
   * reloaded setting applies at once. A failing non-critical probe is reported (false in `probes`)
   * but the service stays ready.
   */
  critical?: boolean | (() => boolean);
}

export class Readiness {
  readonly #probes = new Map<string, Probe>();
  readonly #critical = new Map<string, () => boolean>();
  readonly #devForced: boolean;
  #shuttingDown = false;
  /** Bumped whenever the probe set changes (part of {@link signature}). */
  #version = 0;

  constructor(opts: { devForced?: boolean } = {}) {
    this.#devForced = opts.devForced ?? false;
  }

  /** Adds or replaces a probe. A boolean is a fixed probe; use `flag()` for a settable one. */
  probe(name: string, fn: Probe, opts: ProbeOptions = {}): this {
    this.#probes.set(name, fn);
    const c = opts.critical;
    if (c === undefined || c === true) this.#critical.delete(name);
    else this.#critical.set(name, typeof c === 'function' ? c : () => false);
    this.#version++;
    return this;
  }

  /** Removes a probe (a component that was switched off). */
  remove(name: string): this {
    if (this.#probes.delete(name)) this.#version++;
    this.#critical.delete(name);
    return this;
  }

  has(name: string): boolean {
    return this.#probes.has(name);
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
    for (const [name, fn] of this.#probes) {
      let ok = false;
      try {
        ok = fn();
      } catch {
        ok = false;
      }
      // A failing probe that does not hold readiness down reads 'n' (criticality can change live).
      s += ok ? '1' : (this.#critical.get(name)?.() ?? true) ? '0' : 'n';
    }
    return s;
  }

  /** The {@link signature} a report was taken under (for caching what was rendered from it). */
  signatureOf(r: ReadinessReport): string {
    let s = this.#signaturePrefix();
    for (const name of this.#probes.keys())
      s += r.probes[name] === true ? '1' : r.failing.includes(name) ? '0' : 'n';
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
      if (!ok && (this.#critical.get(name)?.() ?? true)) failing.push(name);
    }
    if (this.#shuttingDown) failing.push('shutting_down');
    const mode = this.#devForced ? 'dev-forced' : 'truthful';
    // The dev override forces 200 but still reports what is failing; shutdown always wins.
    const ready = this.#shuttingDown ? false : this.#devForced || failing.length === 0;
    return { ready, probes, failing, mode };
  }
}
