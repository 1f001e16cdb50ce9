/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "query AnalyzeText($input: AnalyzeTextInput!) {\n  analyzeText(input: $input) {\n    operation\n    summary\n    sentiment {\n      label\n      confidence\n    }\n    points\n    questions\n    answer\n    model\n    usage {\n      promptTokens\n      completionTokens\n    }\n    cached\n  }\n}\n\nmutation AnalyzeTexts($inputs: [AnalyzeTextInput!]!) {\n  analyzeTexts(inputs: $inputs) {\n    __typename\n    ... on TextAnalysis {\n      operation\n      summary\n      sentiment {\n        label\n        confidence\n      }\n      points\n      questions\n      answer\n      cached\n    }\n    ... on TextAnalysisError {\n      index\n      code\n      message\n      reason\n    }\n  }\n}": typeof types.AnalyzeTextDocument,
    "mutation CancelMessage($id: ID!) {\n  cancelMessage(id: $id) {\n    id\n    status\n    content\n  }\n}": typeof types.CancelMessageDocument,
    "mutation CreateSession($input: CreateSessionInput!) {\n  createSession(input: $input) {\n    id\n    title\n    createdAt\n    persona {\n      id\n      name\n    }\n  }\n}": typeof types.CreateSessionDocument,
    "mutation DeleteSession($id: ID!) {\n  deleteSession(id: $id)\n}": typeof types.DeleteSessionDocument,
    "query Health {\n  health {\n    status\n    version\n    uptimeSeconds\n    checks {\n      name\n      status\n      latencyMs\n      detail\n    }\n  }\n}": typeof types.HealthDocument,
    "fragment StreamDelta on MessageDelta {\n  seq\n  cursor\n  text\n}\n\nfragment StreamEnd on MessageEnd {\n  cursor\n  message {\n    id\n    status\n    content\n    model\n    error {\n      code\n      message\n    }\n    usage {\n      promptTokens\n      completionTokens\n    }\n  }\n}\n\nsubscription MessageStream($messageId: ID!, $after: String) {\n  messageStream(messageId: $messageId, after: $after) {\n    __typename\n    ...StreamDelta\n    ...StreamEnd\n  }\n}": typeof types.StreamDeltaFragmentDoc,
    "query Personas {\n  personas {\n    id\n    name\n    description\n  }\n}": typeof types.PersonasDocument,
    "mutation SendMessage($input: SendMessageInput!) {\n  sendMessage(input: $input) {\n    userMessage {\n      id\n      status\n    }\n    assistantMessage {\n      id\n      status\n    }\n  }\n}": typeof types.SendMessageDocument,
    "query Session($id: ID!) {\n  session(id: $id) {\n    id\n    title\n    updatedAt\n    persona {\n      id\n      name\n    }\n    messages(last: 50) {\n      edges {\n        node {\n          id\n          role\n          status\n          content\n          createdAt\n        }\n      }\n      pageInfo {\n        hasPreviousPage\n        startCursor\n      }\n    }\n  }\n}": typeof types.SessionDocument,
    "query Sessions($first: Int, $after: String) {\n  sessions(first: $first, after: $after) {\n    edges {\n      cursor\n      node {\n        id\n        title\n        createdAt\n        updatedAt\n        persona {\n          id\n        }\n        messages(first: 20) {\n          edges {\n            node {\n              id\n              role\n              status\n              content\n              createdAt\n            }\n          }\n          pageInfo {\n            hasNextPage\n            endCursor\n          }\n        }\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}": typeof types.SessionsDocument,
    "mutation SubmitContact($input: SubmitContactInput!) {\n  submitContact(input: $input) {\n    id\n    createdAt\n  }\n}": typeof types.SubmitContactDocument,
    "query Viewer {\n  viewer {\n    principal\n    scopes\n    anonymous\n  }\n}": typeof types.ViewerDocument,
};
const documents: Documents = {
    "query AnalyzeText($input: AnalyzeTextInput!) {\n  analyzeText(input: $input) {\n    operation\n    summary\n    sentiment {\n      label\n      confidence\n    }\n    points\n    questions\n    answer\n    model\n    usage {\n      promptTokens\n      completionTokens\n    }\n    cached\n  }\n}\n\nmutation AnalyzeTexts($inputs: [AnalyzeTextInput!]!) {\n  analyzeTexts(inputs: $inputs) {\n    __typename\n    ... on TextAnalysis {\n      operation\n      summary\n      sentiment {\n        label\n        confidence\n      }\n      points\n      questions\n      answer\n      cached\n    }\n    ... on TextAnalysisError {\n      index\n      code\n      message\n      reason\n    }\n  }\n}": types.AnalyzeTextDocument,
    "mutation CancelMessage($id: ID!) {\n  cancelMessage(id: $id) {\n    id\n    status\n    content\n  }\n}": types.CancelMessageDocument,
    "mutation CreateSession($input: CreateSessionInput!) {\n  createSession(input: $input) {\n    id\n    title\n    createdAt\n    persona {\n      id\n      name\n    }\n  }\n}": types.CreateSessionDocument,
    "mutation DeleteSession($id: ID!) {\n  deleteSession(id: $id)\n}": types.DeleteSessionDocument,
    "query Health {\n  health {\n    status\n    version\n    uptimeSeconds\n    checks {\n      name\n      status\n      latencyMs\n      detail\n    }\n  }\n}": types.HealthDocument,
    "fragment StreamDelta on MessageDelta {\n  seq\n  cursor\n  text\n}\n\nfragment StreamEnd on MessageEnd {\n  cursor\n  message {\n    id\n    status\n    content\n    model\n    error {\n      code\n      message\n    }\n    usage {\n      promptTokens\n      completionTokens\n    }\n  }\n}\n\nsubscription MessageStream($messageId: ID!, $after: String) {\n  messageStream(messageId: $messageId, after: $after) {\n    __typename\n    ...StreamDelta\n    ...StreamEnd\n  }\n}": types.StreamDeltaFragmentDoc,
    "query Personas {\n  personas {\n    id\n    name\n    description\n  }\n}": types.PersonasDocument,
    "mutation SendMessage($input: SendMessageInput!) {\n  sendMessage(input: $input) {\n    userMessage {\n      id\n      status\n    }\n    assistantMessage {\n      id\n      status\n    }\n  }\n}": types.SendMessageDocument,
    "query Session($id: ID!) {\n  session(id: $id) {\n    id\n    title\n    updatedAt\n    persona {\n      id\n      name\n    }\n    messages(last: 50) {\n      edges {\n        node {\n          id\n          role\n          status\n          content\n          createdAt\n        }\n      }\n      pageInfo {\n        hasPreviousPage\n        startCursor\n      }\n    }\n  }\n}": types.SessionDocument,
    "query Sessions($first: Int, $after: String) {\n  sessions(first: $first, after: $after) {\n    edges {\n      cursor\n      node {\n        id\n        title\n        createdAt\n        updatedAt\n        persona {\n          id\n        }\n        messages(first: 20) {\n          edges {\n            node {\n              id\n              role\n              status\n              content\n              createdAt\n            }\n          }\n          pageInfo {\n            hasNextPage\n            endCursor\n          }\n        }\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}": types.SessionsDocument,
    "mutation SubmitContact($input: SubmitContactInput!) {\n  submitContact(input: $input) {\n    id\n    createdAt\n  }\n}": types.SubmitContactDocument,
    "query Viewer {\n  viewer {\n    principal\n    scopes\n    anonymous\n  }\n}": types.ViewerDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query AnalyzeText($input: AnalyzeTextInput!) {\n  analyzeText(input: $input) {\n    operation\n    summary\n    sentiment {\n      label\n      confidence\n    }\n    points\n    questions\n    answer\n    model\n    usage {\n      promptTokens\n      completionTokens\n    }\n    cached\n  }\n}\n\nmutation AnalyzeTexts($inputs: [AnalyzeTextInput!]!) {\n  analyzeTexts(inputs: $inputs) {\n    __typename\n    ... on TextAnalysis {\n      operation\n      summary\n      sentiment {\n        label\n        confidence\n      }\n      points\n      questions\n      answer\n      cached\n    }\n    ... on TextAnalysisError {\n      index\n      code\n      message\n      reason\n    }\n  }\n}"): (typeof documents)["query AnalyzeText($input: AnalyzeTextInput!) {\n  analyzeText(input: $input) {\n    operation\n    summary\n    sentiment {\n      label\n      confidence\n    }\n    points\n    questions\n    answer\n    model\n    usage {\n      promptTokens\n      completionTokens\n    }\n    cached\n  }\n}\n\nmutation AnalyzeTexts($inputs: [AnalyzeTextInput!]!) {\n  analyzeTexts(inputs: $inputs) {\n    __typename\n    ... on TextAnalysis {\n      operation\n      summary\n      sentiment {\n        label\n        confidence\n      }\n      points\n      questions\n      answer\n      cached\n    }\n    ... on TextAnalysisError {\n      index\n      code\n      message\n      reason\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation CancelMessage($id: ID!) {\n  cancelMessage(id: $id) {\n    id\n    status\n    content\n  }\n}"): (typeof documents)["mutation CancelMessage($id: ID!) {\n  cancelMessage(id: $id) {\n    id\n    status\n    content\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation CreateSession($input: CreateSessionInput!) {\n  createSession(input: $input) {\n    id\n    title\n    createdAt\n    persona {\n      id\n      name\n    }\n  }\n}"): (typeof documents)["mutation CreateSession($input: CreateSessionInput!) {\n  createSession(input: $input) {\n    id\n    title\n    createdAt\n    persona {\n      id\n      name\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation DeleteSession($id: ID!) {\n  deleteSession(id: $id)\n}"): (typeof documents)["mutation DeleteSession($id: ID!) {\n  deleteSession(id: $id)\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Health {\n  health {\n    status\n    version\n    uptimeSeconds\n    checks {\n      name\n      status\n      latencyMs\n      detail\n    }\n  }\n}"): (typeof documents)["query Health {\n  health {\n    status\n    version\n    uptimeSeconds\n    checks {\n      name\n      status\n      latencyMs\n      detail\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment StreamDelta on MessageDelta {\n  seq\n  cursor\n  text\n}\n\nfragment StreamEnd on MessageEnd {\n  cursor\n  message {\n    id\n    status\n    content\n    model\n    error {\n      code\n      message\n    }\n    usage {\n      promptTokens\n      completionTokens\n    }\n  }\n}\n\nsubscription MessageStream($messageId: ID!, $after: String) {\n  messageStream(messageId: $messageId, after: $after) {\n    __typename\n    ...StreamDelta\n    ...StreamEnd\n  }\n}"): (typeof documents)["fragment StreamDelta on MessageDelta {\n  seq\n  cursor\n  text\n}\n\nfragment StreamEnd on MessageEnd {\n  cursor\n  message {\n    id\n    status\n    content\n    model\n    error {\n      code\n      message\n    }\n    usage {\n      promptTokens\n      completionTokens\n    }\n  }\n}\n\nsubscription MessageStream($messageId: ID!, $after: String) {\n  messageStream(messageId: $messageId, after: $after) {\n    __typename\n    ...StreamDelta\n    ...StreamEnd\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Personas {\n  personas {\n    id\n    name\n    description\n  }\n}"): (typeof documents)["query Personas {\n  personas {\n    id\n    name\n    description\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation SendMessage($input: SendMessageInput!) {\n  sendMessage(input: $input) {\n    userMessage {\n      id\n      status\n    }\n    assistantMessage {\n      id\n      status\n    }\n  }\n}"): (typeof documents)["mutation SendMessage($input: SendMessageInput!) {\n  sendMessage(input: $input) {\n    userMessage {\n      id\n      status\n    }\n    assistantMessage {\n      id\n      status\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Session($id: ID!) {\n  session(id: $id) {\n    id\n    title\n    updatedAt\n    persona {\n      id\n      name\n    }\n    messages(last: 50) {\n      edges {\n        node {\n          id\n          role\n          status\n          content\n          createdAt\n        }\n      }\n      pageInfo {\n        hasPreviousPage\n        startCursor\n      }\n    }\n  }\n}"): (typeof documents)["query Session($id: ID!) {\n  session(id: $id) {\n    id\n    title\n    updatedAt\n    persona {\n      id\n      name\n    }\n    messages(last: 50) {\n      edges {\n        node {\n          id\n          role\n          status\n          content\n          createdAt\n        }\n      }\n      pageInfo {\n        hasPreviousPage\n        startCursor\n      }\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Sessions($first: Int, $after: String) {\n  sessions(first: $first, after: $after) {\n    edges {\n      cursor\n      node {\n        id\n        title\n        createdAt\n        updatedAt\n        persona {\n          id\n        }\n        messages(first: 20) {\n          edges {\n            node {\n              id\n              role\n              status\n              content\n              createdAt\n            }\n          }\n          pageInfo {\n            hasNextPage\n            endCursor\n          }\n        }\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}"): (typeof documents)["query Sessions($first: Int, $after: String) {\n  sessions(first: $first, after: $after) {\n    edges {\n      cursor\n      node {\n        id\n        title\n        createdAt\n        updatedAt\n        persona {\n          id\n        }\n        messages(first: 20) {\n          edges {\n            node {\n              id\n              role\n              status\n              content\n              createdAt\n            }\n          }\n          pageInfo {\n            hasNextPage\n            endCursor\n          }\n        }\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation SubmitContact($input: SubmitContactInput!) {\n  submitContact(input: $input) {\n    id\n    createdAt\n  }\n}"): (typeof documents)["mutation SubmitContact($input: SubmitContactInput!) {\n  submitContact(input: $input) {\n    id\n    createdAt\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Viewer {\n  viewer {\n    principal\n    scopes\n    anonymous\n  }\n}"): (typeof documents)["query Viewer {\n  viewer {\n    principal\n    scopes\n    anonymous\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;