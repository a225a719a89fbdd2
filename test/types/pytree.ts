// The pytree tools keep the structure's type. Type-checked only, never executed.
import { grad, treeFlatten, treeLeaves, treeMap, type Tensor, type TreeDef } from '../../src/index.js';
import type { Equal, Expect } from './helpers.js';

interface Params { w: Tensor; layers: { b: Tensor }[] }
declare const params: Params;

// treeMap over a pytree of Tensors returns the same structure.
const stepped = treeMap((p, g) => p.sub(g.mul(0.1)), params, grad((p: Params) => p.w.sum())(params));
type _stepped = Expect<Equal<typeof stepped, { w: Tensor; layers: { b: Tensor }[] }>>;
const p2: Params = stepped;
const shapes = treeMap((t) => t.shape.length, params);
type _shapes = Expect<Equal<typeof shapes, { w: number; layers: { b: number }[] }>>;
const pair = treeMap((a) => a.sum(), [params.w, { k: params.w }] as const);
type _pair = Expect<Equal<typeof pair, readonly [Tensor, { readonly k: Tensor }]>>;
// @ts-expect-error the leaves are Tensors: no `foo` on them
treeMap((t) => t.foo, params);
// @ts-expect-error the other trees have the first one's type
treeMap((a, b) => a.add(b), params, { w: params.w });

// Flattening gives the leaf type.
const [leaves, def] = treeFlatten(params);
type _flat = Expect<Equal<[typeof leaves, typeof def], [Tensor[], TreeDef]>>;
const mixed = treeLeaves({ a: params.w, n: 3, s: ['x' as const] });
type _mixed = Expect<Equal<typeof mixed, (Tensor | number | 'x')[]>>;

export { p2 };
