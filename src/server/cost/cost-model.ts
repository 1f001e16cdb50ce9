import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  GraphQLIncludeDirective,
  type GraphQLSchema,
  GraphQLSkipDirective,
  getArgumentValues,
  getDirectiveValues,
  getNamedType,
  getNullableType,
  getOperationAST,
  isCompositeType,
  isListType,
  Kind,
  type NamedTypeNode,
  type SelectionNode,
  type SelectionSetNode,
  typeFromAST,
  type ValueNode,
} from 'graphql';

/**
 * The static cost model, Apollo's defaults over the IBM cost directives that `schema.graphql`
 * shows (`@cost(weight:)`, `@listSize(slicingArguments:, assumedSize:, sizedFields:)`), so a
 * gateway or a client computes the same number:
 *
 * - an operation's base cost is 10 for a mutation, 0 for a query or a subscription;
 * - every object (or interface, union) in the selection costs 1, scalars and enums 0, and a
 *   field's `@cost(weight:)` replaces that;
 * - a list multiplies its items by its slicing argument (`first`, `last`, `k`: the larger one
 *   given, capped at `maxSlice`; a list argument counts as its length, so a batch costs per
 *   input), else its `assumedSize` (the default page), else
 *   `defaultListSize`; a connection's
 *   `sizedFields` (`edges`) are multiplied that way instead of the connection itself, so a page
 *   costs its edges and its `pageInfo` once;
 * - fragments and inline fragments are all counted (an upper bound for abstract types), and
 *   `@skip`/`@include` are honoured.
 *
 * `actualCost` applies the same weights to what a result really holds: lists count their real
 * items, a null object its own weight only.
 */
export interface CostModelOptions {
  /** Items assumed for a list field without slicing argument or `assumedSize`. */
  defaultListSize: number;
  /** Largest slicing value counted, per argument name (larger values are refused elsewhere). */
  maxSlice: Readonly<Record<string, number>>;
}

interface ListSize {
  assumedSize?: number;
  slicingArguments?: readonly string[];
  sizedFields?: readonly string[];
}

/** What the walk needs of a field, read once per field of the schema. */
interface FieldWeights {
  /** Its own weight: `@cost`, else 1 for an object, 0 for a leaf. */
  own: number;
  listSize: ListSize | undefined;
  /** The type its selection is walked in; undefined for a leaf. */
  composite: GraphQLCompositeType | undefined;
  isList: boolean;
}

const MUTATION_BASE_COST = 10;

export interface OperationRequest {
  schema: GraphQLSchema;
  document: DocumentNode;
  operationName?: string | null;
  variables?: Readonly<Record<string, unknown>> | null;
}

export class CostModel {
  private readonly weights = new WeakMap<GraphQLField<unknown, unknown>, FieldWeights>();
  /**
   * Static costs of documents whose cost no variable can change, by operation name: yoga hands
   * the same parsed document to every request with the same text.
   */
  private readonly fixedCosts = new WeakMap<DocumentNode, Map<string, number>>();
  private readonly fragments = new WeakMap<
    DocumentNode,
    ReadonlyMap<string, FragmentDefinitionNode>
  >();
  /** What actualCost visits of each document's operations, by operation name (see planOf). */
  private readonly plans = new WeakMap<DocumentNode, Map<string, MeasurePlan | null>>();

  constructor(private readonly options: CostModelOptions) {}

  /** The cost computed from the document and variables alone, before anything runs. */
  staticCost(request: OperationRequest): number {
    const name = request.operationName ?? '';
    const known = this.fixedCosts.get(request.document)?.get(name);
    if (known !== undefined) return known;
    const walk = this.walk(request);
    const cost = walk?.total ?? 0;
    if (walk && !walk.usedVariables) {
      let byName = this.fixedCosts.get(request.document);
      if (!byName) {
        byName = new Map();
        this.fixedCosts.set(request.document, byName);
      }
      byName.set(name, cost);
    }
    return cost;
  }

  /**
   * The same weights applied to the data a result really holds. It runs after every query, so
   * it follows a plan made once per document (planOf) rather than the document itself: only the
   * fields that can cost anything, with their weights already looked up.
   */
  actualCost(request: OperationRequest, data: unknown): number {
    const plan = this.planOf(request);
    if (!plan) return 0;
    return plan.base + measure(plan.nodes, data ?? null, request.variables ?? {});
  }

  private planOf(request: OperationRequest): MeasurePlan | null {
    const name = request.operationName ?? '';
    let byName = this.plans.get(request.document);
    if (!byName) {
      byName = new Map();
      this.plans.set(request.document, byName);
    }
    let plan = byName.get(name);
    if (plan === undefined || (plan !== null && plan.schema !== request.schema)) {
      plan = this.makePlan(request);
      byName.set(name, plan);
    }
    return plan;
  }

  private makePlan(request: OperationRequest): MeasurePlan | null {
    const operation = operationOf(request);
    if (!operation) return null;
    const planner = new MeasurePlanner(this, request.schema, this.fragmentsOf(request.document));
    return {
      schema: request.schema,
      base: operation.base,
      nodes: planner.nodes(operation.root, operation.selectionSet),
    };
  }

  private walk(request: OperationRequest): { total: number; usedVariables: boolean } | undefined {
    const operation = operationOf(request);
    if (!operation) return undefined;
    const walk = new CostWalk(
      this,
      request.schema,
      this.fragmentsOf(request.document),
      request.variables ?? {},
    );
    const total =
      operation.base + walk.selectionCost(operation.root, operation.selectionSet, undefined);
    return { total, usedVariables: walk.usedVariables };
  }

  /** A document's fragments by name, found once per parsed document. */
  private fragmentsOf(document: DocumentNode): ReadonlyMap<string, FragmentDefinitionNode> {
    let fragments = this.fragments.get(document);
    if (!fragments) {
      const found = new Map<string, FragmentDefinitionNode>();
      for (const definition of document.definitions) {
        if (definition.kind === Kind.FRAGMENT_DEFINITION)
          found.set(definition.name.value, definition);
      }
      fragments = found;
      this.fragments.set(document, fragments);
    }
    return fragments;
  }

  /** @cost and @listSize of a field, as the directives plugin records them in its extensions. */
  weightsOf(field: GraphQLField<unknown, unknown>): FieldWeights {
    let weights = this.weights.get(field);
    if (!weights) {
      const directives = (field.extensions?.directives ?? {}) as Record<string, unknown>;
      const cost = (directives.cost as { weight?: unknown } | undefined)?.weight;
      const listSize = directives.listSize as ListSize | undefined;
      const named = getNamedType(field.type);
      const composite = isCompositeType(named) ? named : undefined;
      weights = {
        own: typeof cost === 'number' ? cost : composite ? 1 : 0,
        listSize,
        composite,
        isList: isListType(getNullableType(field.type)),
      };
      this.weights.set(field, weights);
    }
    return weights;
  }

  /**
   * The items a list is counted for: the largest slicing argument given (a dotted path reaches
   * into an input object, as `input.k`), capped; else its `assumedSize`; else the default.
   */
  sliceOf(listSize: ListSize | undefined, args: Record<string, unknown>): number {
    let slice: number | undefined;
    for (const path of listSize?.slicingArguments ?? []) {
      const value = valueAt(args, path);
      // Beyond the IBM spec (Int slicing arguments only): a batch's list of inputs sizes it.
      const given = Array.isArray(value) ? value.length : value;
      if (typeof given !== 'number') continue;
      const cap = this.options.maxSlice[path.split('.').at(-1) ?? path] ?? given;
      slice = Math.max(slice ?? 0, Math.max(0, Math.min(given, cap)));
    }
    return slice ?? listSize?.assumedSize ?? this.options.defaultListSize;
  }
}

/** The request's operation, where both walks start: its root type, selection and base cost. */
function operationOf(request: OperationRequest) {
  const operation = getOperationAST(request.document, request.operationName ?? undefined);
  if (!operation) return undefined;
  const root = request.schema.getRootType(operation.operation);
  if (!root) return undefined;
  const base = operation.operation === 'mutation' ? MUTATION_BASE_COST : 0;
  return { root, selectionSet: operation.selectionSet, base };
}

/** The type a fragment applies to; undefined when the schema has none of that name. */
function conditionOf(schema: GraphQLSchema, typeCondition: NamedTypeNode) {
  return typeFromAST(schema, typeCondition) as GraphQLCompositeType | undefined;
}

function valueAt(args: Record<string, unknown>, path: string): unknown {
  let value: unknown = args;
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** One static walk over one operation: the document and variables, before anything runs. */
class CostWalk {
  /** Whether a variable decided anything (a slicing argument, a @skip/@include condition). */
  usedVariables = false;

  /** Costs of fragment spreads by fragment and slice: a fan-out is counted, not re-walked. */
  private readonly fragmentCosts = new Map<string, number>();

  constructor(
    private readonly model: CostModel,
    private readonly schema: GraphQLSchema,
    private readonly fragments: ReadonlyMap<string, FragmentDefinitionNode>,
    private readonly variables: Readonly<Record<string, unknown>>,
  ) {}

  selectionCost(
    type: GraphQLCompositeType,
    selectionSet: SelectionSetNode,
    sizedFields: { names: readonly string[]; slice: number } | undefined,
  ): number {
    let total = 0;
    for (const selection of selectionSet.selections) {
      if (!this.included(selection)) continue;
      if (selection.kind === Kind.FIELD) {
        total += this.fieldCost(type, selection, sizedFields);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition
          ? conditionOf(this.schema, selection.typeCondition)
          : type;
        if (condition) total += this.selectionCost(condition, selection.selectionSet, sizedFields);
      } else {
        total += this.spreadCost(selection.name.value, sizedFields);
      }
    }
    return total;
  }

  private spreadCost(
    name: string,
    sizedFields: { names: readonly string[]; slice: number } | undefined,
  ): number {
    const fragment = this.fragments.get(name);
    if (!fragment) return 0;
    const type = conditionOf(this.schema, fragment.typeCondition);
    if (!type) return 0;
    const key = `${name}|${sizedFields?.slice ?? ''}`;
    let cost = this.fragmentCosts.get(key);
    if (cost === undefined) {
      this.fragmentCosts.set(key, 0);
      cost = this.selectionCost(type, fragment.selectionSet, sizedFields);
      this.fragmentCosts.set(key, cost);
    }
    return cost;
  }

  private fieldCost(
    parentType: GraphQLCompositeType,
    node: FieldNode,
    sizedFields: { names: readonly string[]; slice: number } | undefined,
  ): number {
    const name = node.name.value;
    if (name.startsWith('__')) return 0;
    const field = fieldOf(parentType, name);
    if (!field) return 0;
    const { own, listSize, composite, isList } = this.model.weightsOf(field);
    // Arguments matter only to a list's size: most fields skip coercing them.
    const slicing = listSize?.slicingArguments?.length;
    if (slicing && node.arguments?.some((argument) => hasVariable(argument.value))) {
      this.usedVariables = true;
    }
    const args = slicing ? getArgumentValues(field, node, this.variables) : {};
    const slice = this.model.sliceOf(listSize, args);
    const childSized =
      listSize?.sizedFields && listSize.sizedFields.length > 0
        ? { names: listSize.sizedFields, slice }
        : undefined;
    const selected = node.selectionSet ? composite : undefined;
    const itemCost =
      own +
      (selected && node.selectionSet
        ? this.selectionCost(selected, node.selectionSet, childSized)
        : 0);
    if (!isList) return itemCost;
    const sizedBySlice = sizedFields?.names.includes(name);
    const count = sizedBySlice ? sizedFields!.slice : childSized ? 1 : slice;
    return count * itemCost;
  }

  private included(selection: SelectionSetNode['selections'][number]): boolean {
    if (!selection.directives?.length) return true;
    if (
      selection.directives.some((directive) =>
        directive.arguments?.some((a) => hasVariable(a.value)),
      )
    ) {
      this.usedVariables = true;
    }
    return isIncluded(selection, this.variables);
  }
}

/**
 * What the measured walk visits: a field that can cost something (an object, a list, or a leaf
 * with a `@cost` weight: a plain leaf costs nothing whatever the result holds, and most of a
 * page's fields are plain leaves), or selections under `@skip`/`@include`, decided per request.
 */
type MeasureNode =
  | {
      kind: 'field';
      responseKey: string;
      own: number;
      isList: boolean;
      children: readonly MeasureNode[] | undefined;
    }
  | { kind: 'conditional'; selection: SelectionNode; children: readonly MeasureNode[] };

interface MeasurePlan {
  schema: GraphQLSchema;
  base: number;
  nodes: readonly MeasureNode[];
}

/** Builds a plan: the measured walk of CostWalk with every lookup done once. */
class MeasurePlanner {
  /** Fragments being planned: a cycle (invalid, refused by validation) is not followed. */
  private readonly planning = new Set<string>();

  constructor(
    private readonly model: CostModel,
    private readonly schema: GraphQLSchema,
    private readonly fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  ) {}

  nodes(type: GraphQLCompositeType, selectionSet: SelectionSetNode): MeasureNode[] {
    const nodes: MeasureNode[] = [];
    for (const selection of selectionSet.selections) {
      const planned = this.selection(type, selection);
      if (planned.length === 0) continue;
      if (selection.directives?.length) {
        nodes.push({ kind: 'conditional', selection, children: planned });
      } else {
        nodes.push(...planned);
      }
    }
    return nodes;
  }

  private selection(type: GraphQLCompositeType, selection: SelectionNode): MeasureNode[] {
    if (selection.kind === Kind.FIELD) {
      const name = selection.name.value;
      if (name.startsWith('__')) return [];
      const field = fieldOf(type, name);
      if (!field) return [];
      const { own, composite, isList } = this.model.weightsOf(field);
      if (own === 0 && !selection.selectionSet) return [];
      const children =
        selection.selectionSet && composite
          ? this.nodes(composite, selection.selectionSet)
          : undefined;
      return [
        { kind: 'field', responseKey: selection.alias?.value ?? name, own, isList, children },
      ];
    }
    if (selection.kind === Kind.INLINE_FRAGMENT) {
      const condition = selection.typeCondition
        ? conditionOf(this.schema, selection.typeCondition)
        : type;
      return condition ? this.nodes(condition, selection.selectionSet) : [];
    }
    const name = selection.name.value;
    const fragment = this.fragments.get(name);
    if (!fragment || this.planning.has(name)) return [];
    const condition = conditionOf(this.schema, fragment.typeCondition);
    if (!condition) return [];
    this.planning.add(name);
    try {
      return this.nodes(condition, fragment.selectionSet);
    } finally {
      this.planning.delete(name);
    }
  }
}

/** A plan's cost over result data: lists count their real items, a null object its own weight. */
function measure(
  nodes: readonly MeasureNode[],
  data: unknown,
  variables: Readonly<Record<string, unknown>>,
): number {
  let total = 0;
  for (const node of nodes) {
    if (node.kind === 'conditional') {
      if (isIncluded(node.selection, variables)) total += measure(node.children, data, variables);
      continue;
    }
    if (!isRecord(data) || !(node.responseKey in data)) continue;
    const value = data[node.responseKey];
    if (value === null || value === undefined) {
      total += node.own;
      continue;
    }
    const { children } = node;
    if (!node.isList || !Array.isArray(value)) {
      total += node.own + (children ? measure(children, value, variables) : 0);
      continue;
    }
    for (const item of value) {
      total += node.own + (item === null || !children ? 0 : measure(children, item, variables));
    }
  }
  return total;
}

function isIncluded(
  selection: SelectionNode,
  variables: Readonly<Record<string, unknown>>,
): boolean {
  const skip = getDirectiveValues(GraphQLSkipDirective, selection, variables);
  if (skip?.if === true) return false;
  const include = getDirectiveValues(GraphQLIncludeDirective, selection, variables);
  return include?.if !== false;
}

/** Unions have no fields of their own but `__typename`, which costs nothing. */
function fieldOf(type: GraphQLCompositeType, name: string) {
  return 'getFields' in type
    ? (type.getFields()[name] as GraphQLField<unknown, unknown> | undefined)
    : undefined;
}

function hasVariable(value: ValueNode): boolean {
  if (value.kind === Kind.VARIABLE) return true;
  if (value.kind === Kind.LIST) return value.values.some(hasVariable);
  if (value.kind === Kind.OBJECT) return value.fields.some((field) => hasVariable(field.value));
  return false;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
