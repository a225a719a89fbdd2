/**
 * Type-level assertions. `Equal` is exact (not mutual assignability): `any`, optional
 * properties and readonly-ness all count.
 */
export type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/** Compiles only when its argument is `true`: `type _ = Expect<Equal<typeof x, Tensor>>`. */
export type Expect<T extends true> = T;

