/**
 * Compile hints for V8, applied to the published build (scripts/build.mjs): the functions of
 * the modules a first call runs are written so that V8 compiles them with their module
 * instead of one at a time when each first runs.
 *
 * Why: V8 compiles a function lazily, on its first call, and each lazy compile re-parses the
 * function's source and pays a fixed cost of its own. A first `jit(vmap(hessian(f)))` call runs
 * ~860 of the library's functions for the first time (tracing, scheduling, lowering, wasm
 * emission), and compiling them one by one was ~25 ms of its ~70 (`node --no-lazy` measured
 * it). V8 compiles a parenthesized function expression eagerly, with the code around it (the
 * "PIFE" heuristic, in every V8 that Node 20+ ships), inner ones included, so this transform
 * rewrites, in the modules `eager` selects:
 * - each top-level `function f() {}` into `const f = (function f() {});`, hoisted to just after
 *   the imports, before any statement of the module (a function expression evaluates nothing,
 *   so code that called `f` above its declaration still finds it);
 * - each arrow function into a parenthesized `function` expression, where that means the same:
 *   when neither its parameters nor its body use `this`, `arguments`, `super` or `new.target`
 *   (outside functions of their own);
 * - each other function expression into a parenthesized one.
 * Class methods stay as they are (V8 has no eager hint for them). Values and behaviour are
 * unchanged; the cost moves from the first call to the import of those modules, where V8
 * compiles them in one pass (cheaper per function than one lazy compile each).
 */
import ts from 'typescript';

/** Whether `node` (not looking into functions or classes of its own) uses this, arguments, super or new.target. */
function usesOwnBinding(node) {
  let found = false;
  const visit = (n) => {
    if (found) return;
    if (n.kind === ts.SyntaxKind.ThisKeyword || n.kind === ts.SyntaxKind.SuperKeyword || ts.isMetaProperty(n) || (ts.isIdentifier(n) && n.text === 'arguments')) {
      found = true;
      return;
    }
    if (ts.isFunctionDeclaration(n) || ts.isFunctionExpression(n) || ts.isMethodDeclaration(n) || ts.isAccessor(n) || ts.isConstructorDeclaration(n) || ts.isClassLike(n)) return;
    ts.forEachChild(n, visit);
  };
  visit(node);
  return found;
}

const isExported = (st) => st.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword) ?? false;
const isDefault = (st) => st.modifiers?.some((m) => m.kind === ts.SyntaxKind.DefaultKeyword) ?? false;

/**
 * A TypeScript `before` transformer factory: the rewrite above, in the source files for which
 * `eager(fileName)` is true.
 * @example
 * program.emit(undefined, undefined, undefined, false, { before: [eagerCompileHints((f) => f.includes('/fusion/'))] });
 */
export function eagerCompileHints(eager) {
  return (context) => {
    const f = context.factory;
    const parenthesized = (fn, from) => ts.setOriginalNode(ts.setTextRange(f.createParenthesizedExpression(fn), from), from);
    const visit = (node) => {
      if (ts.isArrowFunction(node) && !usesOwnBinding(node.body) && !node.parameters.some(usesOwnBinding)) {
        const params = ts.visitNodes(node.parameters, visit);
        const visited = ts.visitNode(node.body, visit);
        const body = ts.isBlock(visited) ? visited : ts.setTextRange(f.createBlock([ts.setTextRange(f.createReturnStatement(visited), node.body)], false), node.body);
        const modifiers = node.modifiers?.filter((m) => m.kind === ts.SyntaxKind.AsyncKeyword);
        const fn = ts.setTextRange(f.createFunctionExpression(modifiers, undefined, undefined, node.typeParameters, params, node.type, body), node);
        return parenthesized(fn, node);
      }
      if (ts.isFunctionExpression(node) && !ts.isParenthesizedExpression(node.parent)) return parenthesized(ts.visitEachChild(node, visit, context), node);
      return ts.visitEachChild(node, visit, context);
    };
    return (sourceFile) => {
      if (!eager(sourceFile.fileName)) return sourceFile;
      const imports = [];
      const hoisted = [];
      const rest = [];
      for (const st of sourceFile.statements) {
        if (ts.isImportDeclaration(st) || ts.isImportEqualsDeclaration(st)) imports.push(st);
        else if (ts.isFunctionDeclaration(st) && st.name && !isDefault(st)) {
          // Overload signatures (no body) are types only: the implementation stands for them all.
          if (!st.body) continue;
          const modifiers = st.modifiers?.filter((m) => m.kind === ts.SyntaxKind.AsyncKeyword);
          const fn = ts.setTextRange(f.createFunctionExpression(modifiers, st.asteriskToken, st.name, st.typeParameters, ts.visitNodes(st.parameters, visit), st.type, ts.visitNode(st.body, visit)), st);
          const declaration = f.createVariableDeclaration(st.name, undefined, undefined, parenthesized(fn, st));
          const statement = f.createVariableStatement(isExported(st) ? [f.createModifier(ts.SyntaxKind.ExportKeyword)] : undefined, f.createVariableDeclarationList([declaration], ts.NodeFlags.Const));
          hoisted.push(ts.setOriginalNode(ts.setTextRange(statement, st), st));
        } else rest.push(ts.visitNode(st, visit));
      }
      return f.updateSourceFile(sourceFile, [...imports, ...hoisted, ...rest]);
    };
  };
}
