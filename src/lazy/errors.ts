/**
 * The error classes of functs. Every error thrown on bad input is one of these, and its
 * message names the op, the shapes involved and how to fix the call.
 */

/** Base class of every error functs throws on purpose. */
export class FunctsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Shapes that do not fit together: broadcasting, matmul, reshape sizes, concat, ... */
export class ShapeError extends FunctsError {}

/** A dtype the op cannot take, e.g. a gradient with respect to an int32 tensor. */
export class DTypeError extends FunctsError {}

/** An axis or an index outside the valid range. */
export class IndexError extends FunctsError {}

/** An argument that is malformed: ragged nested arrays, non-finite sizes, bad options. */
export class ArgumentError extends FunctsError {}

/** A transform used in a way it cannot support (e.g. reading a per-example value under vmap). */
export class TransformError extends FunctsError {}
