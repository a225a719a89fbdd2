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
 * - each top-level `function f() {}` into `const f = (function () {});`, hoisted to just after
 *   the imports, before any statement of the module (a function expression evaluates nothing,
 *   so code that called `f` above its declaration still finds it). The expression is
 *   anonymous: the declaration names it `f`, and a bundler has no inner name `f` shadowing the
 *   module's `f` to rename (esbuild renamed such inner names, `jit` to `jit2`, which its
 *   keepNames then undid with a `__name` call per closure created, ~1,500 on a first call);
 * - each arrow function into a parenthesized `function` expression, where that means the same:
 *   when neither its parameters nor its body use `this`, `arguments`, `super` or `new.target`
 *   (outside functions of their own); an arrow in a function's body that uses `this` (and
 *   none of the others) reads it from a `const self = this;` put at the top of that body
 *   (not in parameter lists, class field initializers or a derived class's constructor, where
 *   no such const can stand: those arrows stay);
 * - an object literal's methods into properties holding parenthesized function expressions
 *   (the key names each, as it named the method), unless they use `super`;
 * - each other function expression into a parenthesized one;
 * - the methods of a top-level class into parenthesized function expressions in an object
 *   literal (which names each one) defined onto the prototype, or the class for static ones,
 *   right after the class, as the class body defines them: writable, configurable, not
 *   enumerable. V8 has no eager hint for a method; the emitter's and lowering's classes
 *   (compile.ts BodyEmitter, kernel.ts, lower.ts, expr.ts) were ~160 of the ~215 functions a
 *   first call still compiled lazily. A method stays in its class where it uses `super` or a
 *   private name (both only reach from inside a class body), has a computed name, or is
 *   `__proto__`; a class that runs code while it is defined (static initializers or blocks,
 *   decorators) keeps all its methods, since that code may call them first.
 * Accessors, constructors and field initializers stay as they are (19 functions a first call
 * compiles lazily, of ~215 before methods and `this` arrows were rewritten). Values and behaviour are
 * unchanged; the cost moves from the first call to the import of those modules, where V8
 * compiles them in one pass (cheaper per function than one lazy compile each).
 */
import ts from 'typescript';

/** Whether `node` (not looking into functions or classes of its own) uses this (unless `countThis` is false), arguments, super or new.target. */
function usesOwnBinding(node, countThis = true) {
  let found = false;
  const visit = (n) => {
    if (found) return;
    if ((countThis && n.kind === ts.SyntaxKind.ThisKeyword) || n.kind === ts.SyntaxKind.SuperKeyword || ts.isMetaProperty(n) || (ts.isIdentifier(n) && n.text === 'arguments')) {
      found = true;
      return;
    }
    if (ts.isFunctionDeclaration(n) || ts.isFunctionExpression(n) || ts.isMethodDeclaration(n) || ts.isAccessor(n) || ts.isConstructorDeclaration(n) || ts.isClassLike(n)) return;
    ts.forEachChild(n, visit);
  };
  visit(node);
  return found;
}

/** Whether a method's meaning is tied to the class body: it uses `super` or a private name (`#x`). */
function reachesClassScope(method) {
  let found = false;
  const visit = (n) => {
    if (found) return;
    if (n.kind === ts.SyntaxKind.SuperKeyword || ts.isPrivateIdentifier(n)) found = true;
    else ts.forEachChild(n, visit);
  };
  ts.forEachChild(method, visit);
  return found;
}

const isStatic = (m) => m.modifiers?.some((x) => x.kind === ts.SyntaxKind.StaticKeyword) ?? false;
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
    // Where the `this` of an arrow inside a function's body can be read from: a `const` made
    // at the top of that body (`used`: made once an arrow took it); null where no such const
    // may stand (parameter lists, class bodies, derived constructors, the module's top level).
    let self = null;
    // While visiting an arrow rewritten as a function expression: what its `this` becomes.
    let thisName = null;
    /** A function's parameters and body visited as a scope of `this` of its own; the body starts with `const self = this;` where its arrows took `this` from there. */
    const scoped = (node, selfAllowed) => {
      const saved = [self, thisName];
      [self, thisName] = [null, null];
      const params = ts.visitNodes(node.parameters, visit);
      if (selfAllowed && node.body) self = { name: f.createUniqueName('self'), used: false };
      let body = node.body && ts.visitNode(node.body, visit);
      if (self?.used) {
        const declaration = f.createVariableStatement(undefined, f.createVariableDeclarationList([f.createVariableDeclaration(self.name, undefined, undefined, f.createThis())], ts.NodeFlags.Const));
        body = f.updateBlock(body, [declaration, ...body.statements]);
      }
      [self, thisName] = saved;
      return { params, body };
    };
    const asFunctionExpression = (node, params, body) => {
      const modifiers = node.modifiers?.filter((m) => m.kind === ts.SyntaxKind.AsyncKeyword);
      const block = ts.isBlock(body) ? body : ts.setTextRange(f.createBlock([ts.setTextRange(f.createReturnStatement(body), node.body)], false), node.body);
      return parenthesized(ts.setTextRange(f.createFunctionExpression(modifiers, node.asteriskToken, undefined, node.typeParameters, params, node.type, block), node), node);
    };
    const visit = (node) => {
      if (node.kind === ts.SyntaxKind.ThisKeyword && thisName) return thisName;
      if (ts.isArrowFunction(node)) {
        const plain = !usesOwnBinding(node.body) && !node.parameters.some(usesOwnBinding);
        // An arrow that reads `this` (and no arguments, super or new.target) reads it from the
        // enclosing function's `const self = this` instead, as a function expression.
        const viaSelf = !plain && self !== null && !usesOwnBinding(node.body, false) && !node.parameters.some((p) => usesOwnBinding(p, false));
        if (!plain && !viaSelf) return ts.visitEachChild(node, visit, context);
        const saved = thisName;
        if (viaSelf) {
          self.used = true;
          thisName = self.name;
        }
        const params = ts.visitNodes(node.parameters, visit);
        const body = ts.visitNode(node.body, visit);
        thisName = saved;
        return asFunctionExpression(node, params, body);
      }
      if (ts.isClassLike(node)) {
        const saved = [self, thisName];
        [self, thisName] = [null, null];
        const visited = ts.visitEachChild(node, visit, context);
        [self, thisName] = saved;
        return visited;
      }
      if (ts.isMethodDeclaration(node) && ts.isObjectLiteralExpression(node.parent) && !ts.isComputedPropertyName(node.name) && !ts.isPrivateIdentifier(node.name) && node.name.text !== '__proto__' && node.body && !reachesClassScope(node)) {
        // An object literal's method as a property holding a parenthesized function expression
        // (named by its key, as the method was; only super needs the method form).
        const { params, body } = scoped(node, true);
        return ts.setOriginalNode(ts.setTextRange(f.createPropertyAssignment(node.name, asFunctionExpression(node, params, body)), node), node);
      }
      if (ts.isFunctionExpression(node) || ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isAccessor(node) || ts.isConstructorDeclaration(node)) {
        const modifiers = ts.visitNodes(node.modifiers, visit);
        const name = node.name && ts.visitNode(node.name, visit);
        // A derived class's constructor has no `this` before super() returns.
        const derived = ts.isConstructorDeclaration(node) && node.parent.heritageClauses?.some((h) => h.token === ts.SyntaxKind.ExtendsKeyword);
        const { params, body } = scoped(node, !derived);
        if (ts.isFunctionExpression(node)) {
          const fn = f.updateFunctionExpression(node, modifiers, node.asteriskToken, name, node.typeParameters, params, node.type, body);
          return ts.isParenthesizedExpression(node.parent) ? fn : parenthesized(fn, node);
        }
        if (ts.isFunctionDeclaration(node)) return f.updateFunctionDeclaration(node, modifiers, node.asteriskToken, name, node.typeParameters, params, node.type, body);
        if (ts.isMethodDeclaration(node)) return f.updateMethodDeclaration(node, modifiers, node.asteriskToken, name, node.questionToken, node.typeParameters, params, node.type, body);
        if (ts.isGetAccessor(node)) return f.updateGetAccessorDeclaration(node, modifiers, name, params, node.type, body);
        if (ts.isSetAccessor(node)) return f.updateSetAccessorDeclaration(node, modifiers, name, params, body);
        return f.updateConstructorDeclaration(node, modifiers, params, body);
      }
      return ts.visitEachChild(node, visit, context);
    };
    /**
     * A top-level class's methods moved out of its body onto its prototype (or the class, for
     * static ones) right after the class, as parenthesized function expressions in an object
     * literal, each defined writable, configurable and not enumerable, as a class body defines
     * them. A method stays in the class where it uses `super` or a private name (`#x`): both
     * reach only from inside a class body. A class whose definition runs code of its own
     * (static initializers or blocks, decorators) keeps every method: that code may call them
     * before the statements after the class have run.
     */
    const eagerMethods = (visited, original) => {
      const name = original.name;
      if (!name || isDefault(original) || !ts.isClassDeclaration(visited)) return [visited];
      const runsCode = original.members.some((m) => ts.isClassStaticBlockDeclaration(m) || (ts.isPropertyDeclaration(m) && m.initializer && m.modifiers?.some((x) => x.kind === ts.SyntaxKind.StaticKeyword))) || ts.getDecorators?.(original)?.length || original.members.some((m) => ts.canHaveDecorators(m) && ts.getDecorators(m)?.length);
      if (runsCode) return [visited];
      const movable = (m) => ts.isMethodDeclaration(m) && m.body && ts.isIdentifier(m.name) && m.name.text !== 'constructor' && m.name.text !== '__proto__' && !m.questionToken && !reachesClassScope(m);
      const moved = new Set(visited.members.filter(movable).map((m) => `${isStatic(m)} ${m.name.text}`));
      if (moved.size === 0) return [visited];
      const kept = visited.members.filter((m) => !(ts.isMethodDeclaration(m) && ts.isIdentifier(m.name) && moved.has(`${isStatic(m)} ${m.name.text}`)));
      const statements = [ts.setOriginalNode(ts.setTextRange(f.updateClassDeclaration(visited, visited.modifiers, visited.name, visited.typeParameters, visited.heritageClauses, kept), original), original)];
      for (const staticSide of [false, true]) {
        const methods = visited.members.filter((m) => movable(m) && isStatic(m) === staticSide);
        if (methods.length === 0) continue;
        // An object literal's property names its anonymous function (the method's name, even a
        // reserved word); a named function expression would bind its name inside the body.
        // Comments stay behind: their positions belong to the class body's lines.
        const literal = f.createObjectLiteralExpression(methods.map((m) => {
          const modifiers = m.modifiers?.filter((x) => x.kind === ts.SyntaxKind.AsyncKeyword);
          const fn = ts.setEmitFlags(ts.setTextRange(f.createFunctionExpression(modifiers, m.asteriskToken, undefined, m.typeParameters, m.parameters, m.type, m.body), m), ts.EmitFlags.NoComments);
          return f.createPropertyAssignment(f.createIdentifier(m.name.text), ts.setEmitFlags(parenthesized(fn, m), ts.EmitFlags.NoComments));
        }), true);
        const target = staticSide ? f.createIdentifier(name.text) : f.createPropertyAccessExpression(f.createIdentifier(name.text), 'prototype');
        // for (const [key, value] of Object.entries({ m: (function () {}), ... })) Object.defineProperty(target, key, { value, writable: true, configurable: true });
        const key = f.createUniqueName('key'), value = f.createUniqueName('value');
        const binding = f.createArrayBindingPattern([f.createBindingElement(undefined, undefined, key), f.createBindingElement(undefined, undefined, value)]);
        const define = f.createCallExpression(f.createPropertyAccessExpression(f.createIdentifier('Object'), 'defineProperty'), undefined, [target, key, f.createObjectLiteralExpression([
          f.createPropertyAssignment('value', value), f.createPropertyAssignment('writable', f.createTrue()), f.createPropertyAssignment('configurable', f.createTrue()),
        ])]);
        const entries = f.createCallExpression(f.createPropertyAccessExpression(f.createIdentifier('Object'), 'entries'), undefined, [literal]);
        statements.push(f.createForOfStatement(undefined, f.createVariableDeclarationList([f.createVariableDeclaration(binding)], ts.NodeFlags.Const), entries, f.createExpressionStatement(define)));
      }
      return statements;
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
          const { params, body } = scoped(st, true);
          const declaration = f.createVariableDeclaration(st.name, undefined, undefined, asFunctionExpression(st, params, body));
          const statement = f.createVariableStatement(isExported(st) ? [f.createModifier(ts.SyntaxKind.ExportKeyword)] : undefined, f.createVariableDeclarationList([declaration], ts.NodeFlags.Const));
          hoisted.push(ts.setOriginalNode(ts.setTextRange(statement, st), st));
        } else if (ts.isClassDeclaration(st)) rest.push(...eagerMethods(ts.visitNode(st, visit), st));
        else rest.push(ts.visitNode(st, visit));
      }
      return f.updateSourceFile(sourceFile, [...imports, ...hoisted, ...rest]);
    };
  };
}
