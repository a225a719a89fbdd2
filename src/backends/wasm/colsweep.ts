/**
 * Column sums swept by rows. A kernel that sums float32 data down the rows of a 2-D block
 * (x.sum(0), x.mean(0): for each column, `acc += x[r, c]` over r) reads, in the loop order
 * the scheduler gives it, a few columns down every row: a new cache line (and page) per row
 * and column tile. Here the same sums are computed in the order a hand-writer uses: rows in
 * the outer loop, each row's span of columns added contiguously into a partial row of float64
 * sums held in a scratch at the top of the memory (blocks of at most `sweepTuning.block`
 * columns; a wide partial row takes four rows a pass), and then the kernel's own body runs with each reduction loop
 * replaced by one load of its column's finished sum from the scratch.
 *
 * Results are bit for bit those of the loop order they replace: every column's float64 sum
 * starts at 0 and adds the rows in order, as the accumulator did. Threads split the kernel's
 * outer loop (column tiles) as before; the scratch is indexed by column, so chunks write
 * disjoint parts of it, and the sums are the same for any thread count.
 *
 * The match is checked by evaluating the kernel's index arithmetic (every iteration of the
 * loops around the reduction, at its first two rows): each outer iteration must sum a
 * contiguous span of columns (each once), the reduction loop must only load float32 data of
 * one input buffer and add it to accumulators declared just outside it and added to nowhere
 * else, and the rows a fixed stride apart.
 */
import type { KernelIR, Operand, Stmt, Value } from '../../fusion/kernel.js';
import { Code, Op, Simd } from './encoder.js';
import { KERNEL_SCRATCH_BYTES } from './memory.js';
import type { ParallelLoop } from './parallel.js';

type Loop = Extract<Stmt, { kind: 'loop' }>;

/** The sweep's shape (tests change it: compiled kernels keep the values of their first compile). */
export const sweepTuning = {
  /**
   * Columns per block of the sweep (a float64 partial row of 8 bytes a column): a block
   * narrower than the row streams badly (one thread, [2048, 2048]: blocks of 1024 columns
   * 5.0-5.3 GB per CPU-second, of 2048 7.8-9.2), so blocks are as wide as 4096 columns.
   */
  block: 4096,
  /**
   * The fewest columns a thread's chunk sweeps: a span of a row shorter than the row streams
   * badly (measured on [4096, 1024], GB per CPU-second, one thread: spans of 4 KiB 14.7, 2 KiB
   * 5.4, 512 bytes 3.6; [2048, 2048] above), so a matrix under 4096 columns runs on one thread.
   */
  chunkColumns: 2048,
  /**
   * Rows added per pass over the block's partial row where it has at most `narrowColumns`
   * columns (its 8 KiB stay in L1: one row a pass, measured 11-15 GB per CPU-second on
   * [4096, 1024] against 8-9 for two rows 4 KiB apart), and where it is wider (the partial
   * row spills from L1, so fewer passes over it pay: [1024, 4096] 5.4-6.2 for one row a pass,
   * 7.4-7.8 for two, 9.1-10.8 for four; [2048, 2048] 7.4-7.8 against 9.1-10.0).
   */
  rowsTogether: 1,
  wideRowsTogether: 4,
  narrowColumns: 1024,
};
/** Evaluating the index arithmetic stops (no match) after this many statements. */
const EVALUATION_LIMIT = 1 << 22;

export interface ColumnSweep {
  /** The kernel with each reduction loop replaced by loads of its sums from a float64 buffer numbered `ir.buffers.length`. */
  readonly rewritten: KernelIR;
  /** The float32 input summed. */
  readonly input: number;
  /** Its element index of the first column's first row. */
  readonly first: number;
  /** Elements between rows. */
  readonly rowStride: number;
  readonly rows: number;
  /** Columns per iteration of the outer loop, and that loop's extent. */
  readonly columnsPerIteration: number;
  readonly iterations: number;
  /** Bytes of scratch (a float64 per column) at the top of the memory. */
  readonly scratchBytes: number;
}

/** The column sweep for `ir`, or null where its sums are not of that form (or not worth it: rows too few). */
export function matchColumnSweep(ir: KernelIR, parallel: ParallelLoop | null): ColumnSweep | null {
  const loops = ir.body.filter((st): st is Loop => st.kind === 'loop');
  if (loops.length !== 1 || ir.body.some((st) => st.kind !== 'loop' && st.kind !== 'let')) return null;
  const outer = loops[0];
  if (parallel && parallel.index !== outer.index) return null;

  // The reduction loops: loads of one float32 input, each summed into an accumulator declared in the enclosing list.
  const accumulateCount = new Map<string, number>();
  const countAccumulates = (list: readonly Stmt[]): void => {
    for (const st of list) {
      if (st.kind === 'loop') countAccumulates(st.body);
      else if (st.kind === 'accumulate') accumulateCount.set(st.name, (accumulateCount.get(st.name) ?? 0) + 1);
    }
  };
  countAccumulates(ir.body);
  const reductions = new Set<Loop>();
  let input = -1;
  const findReductions = (list: readonly Stmt[]): boolean => {
    const declared = new Set<string>();
    for (const st of list) {
      if (st.kind === 'accumulator') declared.add(st.name);
      if (st.kind !== 'loop') continue;
      if (isReduction(st, declared)) reductions.add(st);
      else if (!findReductions(st.body)) return false;
    }
    return true;
  };
  const isReduction = (loop: Loop, declared: ReadonlySet<string>): boolean => {
    const loads = new Map<string, Extract<Value, { kind: 'load' }>>();
    let sums = 0;
    for (const st of loop.body) {
      if (st.kind === 'let' && st.value.kind === 'affine') continue;
      if (st.kind === 'let' && st.value.kind === 'load') {
        const spec = ir.buffers[st.value.buffer];
        if (spec.role !== 'input' || spec.dtype !== 'float32') return false;
        loads.set(st.name, st.value);
        continue;
      }
      if (st.kind === 'accumulate' && st.op === 'sum' && !st.wrapsInt32 && typeof st.value === 'string' && loads.has(st.value)
        && declared.has(st.name) && accumulateCount.get(st.name) === 1) {
        sums++;
        continue;
      }
      return false;
    }
    if (sums === 0) return false;
    const buffers = new Set([...loads.values()].map((l) => l.buffer));
    if (buffers.size !== 1) return false;
    const buffer = [...buffers][0];
    if (input !== -1 && input !== buffer) return false;
    input = buffer;
    return true;
  };
  if (!findReductions(outer.body) || reductions.size === 0) return null;
  const rows = [...reductions][0].extent;
  if ([...reductions].some((l) => l.extent !== rows) || rows < 4) return null;

  // Evaluate the index arithmetic over every outer iteration: each reduction's loads at rows 0 and 1.
  const perIteration: number[][] = [];
  let rowStride: number | null = null;
  let steps = 0;
  const env = new Map<string, number>();
  const value = (o: Operand): number | undefined => (typeof o === 'string' ? env.get(o) : o.literal);
  const define = (name: string, v: Value): void => {
    let result: number | undefined;
    if (v.kind === 'affine') {
      result = value(v.base);
      for (const t of v.terms) {
        const x = value(t.value);
        result = result === undefined || x === undefined ? undefined : result + x * t.coef;
      }
    } else if (v.kind === 'divmod') {
      const x = value(v.arg);
      result = x === undefined ? undefined : v.op === 'div' ? Math.floor(x / v.by) : x - Math.floor(x / v.by) * v.by;
    }
    if (result === undefined) env.delete(name);
    else env.set(name, result);
  };
  let columns: number[] = [];
  const walk = (list: readonly Stmt[]): boolean => {
    for (const st of list) {
      if (++steps > EVALUATION_LIMIT) return false;
      if (st.kind === 'let') define(st.name, st.value);
      else if (st.kind === 'loop' && reductions.has(st)) {
        const at = (r: number): number[] | null => {
          env.set(st.index, r);
          const found: number[] = [];
          for (const s of st.body) {
            if (s.kind === 'let') define(s.name, s.value);
            else if (s.kind === 'accumulate') {
              const load = st.body.find((b) => b.kind === 'let' && b.name === s.value) as Extract<Stmt, { kind: 'let' }>;
              const index = value((load.value as Extract<Value, { kind: 'load' }>).index);
              if (index === undefined) return null;
              found.push(index);
            }
          }
          return found;
        };
        const second = at(1);
        const first = at(0);
        if (!first || !second) return false;
        for (let k = 0; k < first.length; k++) {
          const stride = second[k] - first[k];
          if (rowStride === null) rowStride = stride;
          else if (stride !== rowStride) return false;
        }
        columns.push(...first);
      } else if (st.kind === 'loop') {
        for (let i = 0; i < st.extent; i++) {
          env.set(st.index, i);
          if (!walk(st.body)) return false;
        }
      }
    }
    return true;
  };
  for (const st of ir.body) if (st.kind === 'let') define(st.name, st.value);
  for (let i = 0; i < outer.extent; i++) {
    env.set(outer.index, i);
    columns = [];
    if (!walk(outer.body)) return null;
    perIteration.push(columns);
  }
  const columnsPerIteration = perIteration[0].length;
  if (rowStride === null || columnsPerIteration === 0) return null;
  const first = Math.min(...perIteration[0]);
  for (let i = 0; i < outer.extent; i++) {
    const sorted = [...perIteration[i]].sort((a, b) => a - b);
    if (sorted.length !== columnsPerIteration) return null;
    for (let k = 0; k < sorted.length; k++) if (sorted[k] !== first + i * columnsPerIteration + k) return null;
  }
  // Only where rows are apart (a sweep of one contiguous row is the loop order already) and every load is in the buffer.
  const width = outer.extent * columnsPerIteration;
  if (rowStride < width || first < 0 || rowStride * 4 >= 2 ** 31 || first * 4 >= 2 ** 31 || first + width - 1 + (rows - 1) * rowStride >= ir.buffers[input].size) return null;
  const scratchBytes = Math.ceil((width * 8) / 64) * 64;
  if (scratchBytes > KERNEL_SCRATCH_BYTES) return null;

  return { rewritten: rewrite(ir, reductions, first, width), input, first, rowStride, rows, columnsPerIteration, iterations: outer.extent, scratchBytes };
}

/** `ir` with each reduction loop replaced by its accumulators' loads of the finished sums (buffer `ir.buffers.length`, indexed by column). */
function rewrite(ir: KernelIR, reductions: ReadonlySet<Loop>, first: number, width: number): KernelIR {
  const sums = ir.buffers.length;
  let fresh = 0;
  const replace = (list: readonly Stmt[]): Stmt[] =>
    list.flatMap((st): Stmt[] => {
      if (st.kind === 'loop' && reductions.has(st)) {
        // The loop body at row 0: its index arithmetic (renamed), then per accumulator the load of its column's sum.
        const renamed = new Map<string, string>();
        const at0 = (o: Operand): Operand => (typeof o !== 'string' ? o : o === st.index ? { literal: 0 } : renamed.has(o) ? renamed.get(o)! : o);
        const out: Stmt[] = [];
        const loadOf = new Map<string, Operand>();
        for (const s of st.body) {
          if (s.kind === 'let' && s.value.kind === 'affine') {
            const name = `${s.name}_sweep`;
            renamed.set(s.name, name);
            out.push({ kind: 'let', name, value: { kind: 'affine', base: at0(s.value.base), terms: s.value.terms.map((t) => ({ value: at0(t.value), coef: t.coef })) } });
          } else if (s.kind === 'let' && s.value.kind === 'load') loadOf.set(s.name, at0(s.value.index));
          else if (s.kind === 'accumulate') {
            const index = `sweep${fresh}_index`;
            const sum = `sweep${fresh++}_sum`;
            out.push({ kind: 'let', name: index, value: { kind: 'affine', base: { literal: -first }, terms: [{ value: loadOf.get(s.value as string)!, coef: 1 }] } });
            out.push({ kind: 'let', name: sum, value: { kind: 'load', buffer: sums, index } });
            out.push({ kind: 'accumulate', name: s.name, op: 'sum', value: sum });
          }
        }
        return out;
      }
      if (st.kind === 'loop') return [{ ...st, body: replace(st.body) }];
      return [st];
    });
  return { ...ir, buffers: [...ir.buffers, { dtype: 'float64', size: width, role: 'input' }], body: replace(ir.body) };
}

/**
 * The sweep's code, for the kernel function whose parameters are the buffers' byte addresses
 * (then, with `parallel`, the outer loop's chunk: start and end): leaves the scratch's byte
 * address in local `scratch`. `local` adds a local of the function.
 */
export function emitColumnSweep(c: Code, sweep: ColumnSweep, bufferCount: number, parallel: boolean, scratch: number, local: (t: 'i32') => number): void {
  const [begin, end, block, blockEnd, rowAt, rowsLeft, p, s, lineEnd, vectorEnd, tailEnd] = Array.from({ length: 11 }, () => local('i32'));
  const loopWhileLess = (i: number, limit: number, body: () => void): void => {
    // while (i < limit) body  (unsigned: addresses)
    c.open(Op.block);
    c.get(i).get(limit).op(Op.i32_lt_u).op(Op.i32_eqz).op(Op.br_if).u32(0);
    c.open(Op.loop);
    body();
    c.get(i).get(limit).op(Op.i32_lt_u).op(Op.br_if).u32(0);
    c.op(Op.end).op(Op.end);
  };
  c.op(Op.memory_size).byte(0).i32Const(16).op(Op.i32_shl).i32Const(sweep.scratchBytes).op(Op.i32_sub).set(scratch);
  // The chunk's columns, relative to the first: [begin, end).
  if (parallel) c.get(bufferCount);
  else c.i32Const(0);
  c.i32Const(sweep.columnsPerIteration).op(Op.i32_mul).set(begin);
  if (parallel) c.get(bufferCount + 1);
  else c.i32Const(sweep.iterations);
  c.i32Const(sweep.columnsPerIteration).op(Op.i32_mul).set(end);
  c.get(begin).set(block);
  loopWhileLess(block, end, () => {
    // blockEnd = min(block + sweepTuning.block, end)
    c.get(block).i32Const(sweepTuning.block).op(Op.i32_add).tee(blockEnd).get(end).get(blockEnd).get(end).op(Op.i32_lt_s).op(Op.select).set(blockEnd);
    // The block's partial row: zeros.
    c.get(scratch).get(block).i32Const(3).op(Op.i32_shl).op(Op.i32_add).set(s);
    c.get(scratch).get(blockEnd).i32Const(3).op(Op.i32_shl).op(Op.i32_add).set(tailEnd);
    loopWhileLess(s, tailEnd, () => {
      c.get(s).f64Const(0).mem(Op.f64_store, 3, 0);
      c.get(s).i32Const(8).op(Op.i32_add).set(s);
    });
    // Each row's span added in: four columns at a time (two f64x2 of promoted halves), then one
    // at a time; `together` rows per pass over the partial row (added in order: the same sums).
    c.get(sweep.input).i32Const(sweep.first * 4).op(Op.i32_add).get(block).i32Const(2).op(Op.i32_shl).op(Op.i32_add).set(rowAt);
    const rowBytes = sweep.rowStride * 4;
    const passes = (together: number, count: number): void => {
      if (count === 0) return;
      c.i32Const(count).set(rowsLeft);
      c.open(Op.loop);
      c.get(rowAt).set(p);
      c.get(scratch).get(block).i32Const(3).op(Op.i32_shl).op(Op.i32_add).set(s);
      c.get(blockEnd).get(block).op(Op.i32_sub).i32Const(-4).op(Op.i32_and).i32Const(2).op(Op.i32_shl).get(rowAt).op(Op.i32_add).set(vectorEnd);
      c.get(blockEnd).get(block).op(Op.i32_sub).i32Const(2).op(Op.i32_shl).get(rowAt).op(Op.i32_add).set(tailEnd);
      const columns = (count: number): void => {
        for (let half = 0; half < count / 2; half++) {
          c.get(s).get(s).simdMem(Simd.v128_load, 3, 16 * half);
          for (let k = 0; k < together; k++) c.get(p).simdMem(V128_LOAD64_ZERO, 2, k * rowBytes + 8 * half).simd(Simd.f64x2_promote_low_f32x4).simd(Simd.f64x2_add);
          c.simdMem(Simd.v128_store, 3, 16 * half);
        }
        c.get(p).i32Const(4 * count).op(Op.i32_add).set(p);
        c.get(s).i32Const(8 * count).op(Op.i32_add).set(s);
      };
      // Sixteen columns (a cache line of the row) per iteration while they last, then four.
      c.get(blockEnd).get(block).op(Op.i32_sub).i32Const(-16).op(Op.i32_and).i32Const(2).op(Op.i32_shl).get(rowAt).op(Op.i32_add).set(lineEnd);
      loopWhileLess(p, lineEnd, () => columns(16));
      loopWhileLess(p, vectorEnd, () => columns(4));
      loopWhileLess(p, tailEnd, () => {
        c.get(s).get(s).mem(Op.f64_load, 3, 0);
        for (let k = 0; k < together; k++) c.get(p).mem(Op.f32_load, 2, k * rowBytes).op(Op.f64_promote_f32).op(Op.f64_add);
        c.mem(Op.f64_store, 3, 0);
        c.get(p).i32Const(4).op(Op.i32_add).set(p);
        c.get(s).i32Const(8).op(Op.i32_add).set(s);
      });
      c.get(rowAt).i32Const(together * rowBytes).op(Op.i32_add).set(rowAt);
      c.get(rowsLeft).i32Const(1).op(Op.i32_sub).tee(rowsLeft).op(Op.br_if).u32(0);
      c.op(Op.end);
    };
    const wanted = Math.min(sweep.iterations * sweep.columnsPerIteration, sweepTuning.block) > sweepTuning.narrowColumns ? sweepTuning.wideRowsTogether : sweepTuning.rowsTogether;
    const together = sweep.rowStride * 4 * wanted < 2 ** 31 ? wanted : 1;
    passes(1, sweep.rows % together);
    passes(together, Math.floor(sweep.rows / together));
    c.get(blockEnd).set(block);
  });
}

/** v128.load64_zero: two float32 into the low lanes (for f64x2.promote_low_f32x4). */
const V128_LOAD64_ZERO = 93;
