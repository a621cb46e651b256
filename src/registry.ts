/**
 * Registries of the components users extend: survey suites, elicitation methods, metrics,
 * protocols and model backends. Every kind has the same shape: a component has a `name` (what the
 * command line and the library call it), a one-line `description`, and `args`, a zod schema of
 * its arguments (defaults filled in when it is parsed); each kind adds what it does (a metric its
 * distance, a method its requests, ...). A run records each component it used as `{name, args}`
 * (as inspect_ai records its scorers). Adding a component is one file that defines it and one
 * `register` line: docs/extending.md.
 *
 * Lookups are case-insensitive and fail with a usage error that lists the registered names (exit
 * 2 on the command line). Lists (`names`, `all`) are live: a component registered later appears
 * in them, and in the help texts built from them, at once.
 */
import { z } from "zod";
import { CivitasError } from "./errors.js";

/** What every registered component has. */
export interface Component {
  /** What users type: lower case letters, digits, ".", "_" and "-", starting with a letter. */
  readonly name: string;
  /** One line, for help texts and listings. */
  readonly description: string;
  /** Its arguments: a zod schema whose parse fills in the defaults (z.object({}) for none). */
  readonly args: z.ZodType;
}

/** A component as a run records it: its name and its arguments, defaults filled in. */
export interface ComponentSpec {
  readonly name: string;
  readonly args: Readonly<Record<string, unknown>>;
}

export interface RegistryOptions<C extends Component> {
  /** What the registry holds, singular, for messages: "metric", "elicitation method". */
  readonly kind: string;
  /** The error of an unknown name (default: `unknown <kind> "<name>"`, hint `choose among <names>`). */
  readonly unknown?: (name: string, names: readonly string[]) => { readonly message: string; readonly hint: string };
  /** Checks what a kind adds to the common shape; returns the problems (empty when none). */
  readonly check?: (component: C) => readonly string[];
}

const NAME = /^[a-z][a-z0-9._-]*$/u;

export class Registry<C extends Component> {
  readonly kind: string;
  private readonly items: C[] = [];
  private readonly itemNames: string[] = [];
  private readonly byName = new Map<string, C>();
  private readonly options: RegistryOptions<C>;

  constructor(options: RegistryOptions<C>) {
    this.kind = options.kind;
    this.options = options;
  }

  /** The registered names, in order of registration (live). */
  get names(): readonly string[] {
    return this.itemNames;
  }

  /** The registered components, in order of registration (live). */
  get all(): readonly C[] {
    return this.items;
  }

  /**
   * Adds a component; returns it. Registering the same object again does nothing; another
   * component under a registered name is an error (names are what runs record).
   */
  register(component: C): C {
    const problems = this.problems(component);
    if (problems.length > 0) {
      const name = typeof component?.name === "string" ? ` "${component.name}"` : "";
      throw new CivitasError("input", `cannot register the ${this.kind}${name}: ${problems.join("; ")}`, {
        hint: "docs/extending.md shows what a component needs",
      });
    }
    const existing = this.byName.get(component.name);
    if (existing === component) return component;
    if (existing) {
      throw new CivitasError("input", `a ${this.kind} named "${component.name}" is registered already`, {
        hint: `give yours another name (registered: ${this.itemNames.join(", ")})`,
      });
    }
    this.items.push(component);
    this.itemNames.push(component.name);
    this.byName.set(component.name, component);
    return component;
  }

  /** The component of a name (any case), or undefined. */
  find(name: string): C | undefined {
    return this.byName.get(name.trim().toLowerCase());
  }

  has(name: string): boolean {
    return this.find(name) !== undefined;
  }

  /** The component of a name (any case); an unknown name is a usage error that lists the registered ones. */
  get(name: string): C {
    const c = this.find(name);
    if (c) return c;
    const e = this.options.unknown?.(name, this.itemNames) ?? {
      message: `unknown ${this.kind} "${name}"`,
      hint: `choose among ${this.itemNames.join(", ")}`,
    };
    throw new CivitasError("usage", e.message, { hint: e.hint });
  }

  /**
   * The component of a name with its arguments parsed by its schema (defaults filled in, keys it
   * does not declare dropped), as a run records it. Bad arguments are a usage error naming the
   * component and the field.
   */
  spec(name: string, args: unknown = {}): ComponentSpec {
    const c = this.get(name);
    return { name: c.name, args: parseArgs(this.kind, c, args) };
  }

  private problems(c: C): string[] {
    if (c === null || typeof c !== "object") return ["expected an object"];
    const out: string[] = [];
    if (typeof c.name !== "string" || !NAME.test(c.name)) {
      out.push(`name: expected lower case letters, digits, ".", "_" or "-", starting with a letter; got ${JSON.stringify(c.name)}`);
    }
    if (typeof c.description !== "string" || c.description.trim() === "") out.push("description: expected one line of text");
    if (c.args === null || typeof c.args !== "object" || typeof (c.args as { safeParse?: unknown }).safeParse !== "function") {
      out.push("args: expected a zod schema (z.object({}) for none)");
    } else {
      const defaults = c.args.safeParse({});
      if (!defaults.success) {
        // Every argument needs a default: a run names a component without arguments.
        out.push(`args: every argument needs a default (${issueText(defaults.error.issues)})`);
      } else if (defaults.data === null || typeof defaults.data !== "object" || Array.isArray(defaults.data)) {
        out.push("args: expected a schema of an object (z.object({...}))");
      }
    }
    if (out.length === 0 && this.options.check) out.push(...this.options.check(c));
    return out;
  }
}

function issueText(issues: readonly z.core.$ZodIssue[]): string {
  return issues.map((i) => `${i.path.length > 0 ? `${i.path.map(String).join(".")}: ` : ""}${i.message}`).join("; ");
}

/** A component's arguments through its schema; bad ones are a usage error naming the component and the field. */
export function parseArgs(kind: string, c: Component, args: unknown): Readonly<Record<string, unknown>> {
  const r = c.args.safeParse(args ?? {});
  if (!r.success) throw new CivitasError("usage", `bad arguments for the ${kind} "${c.name}": ${issueText(r.error.issues)}`);
  return r.data as Readonly<Record<string, unknown>>;
}

/** The schema of a component without arguments. */
export const NO_ARGS = z.object({});
