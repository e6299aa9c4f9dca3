// Minimal types for the `macaroon` package (it ships none): only what capabilities.ts uses.
declare module 'macaroon' {
  export interface Macaroon {
    readonly caveats: { identifier: Uint8Array; location?: string; vid?: Uint8Array }[];
    readonly identifier: Uint8Array;
    readonly location: string;
    addFirstPartyCaveat(caveatId: Uint8Array | string): void;
    verify(rootKey: Uint8Array, check: (condition: string) => string | null, discharges?: Macaroon[]): void;
    exportBinary(): Uint8Array;
  }
  export function newMacaroon(params: {
    identifier: Uint8Array | string;
    location?: string;
    rootKey: Uint8Array;
    version?: 1 | 2;
  }): Macaroon;
  export function importMacaroon(obj: Uint8Array | string | object): Macaroon;
  export function bytesToBase64(bytes: Uint8Array): string;
  export function base64ToBytes(s: string): Uint8Array;
}
