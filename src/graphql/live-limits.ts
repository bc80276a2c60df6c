/**
 * Operation limits that follow a config reload. The server holds one limits object that a reload
 * assigns new values into; the rule and the document cache here read it on every use.
 */
import { InMemoryLRUCache, type KeyValueCache } from '@apollo/utils.keyvaluecache';
import { visitInParallel, type DocumentNode, type ValidationRule } from 'graphql';
import { limitRules, type QueryLimits } from './limits.js';

/** Parsed and validated documents kept for Apollo; least recently used ones go first. */
const MAX_DOCUMENTS = 1000;

export interface LiveLimits {
  /** The limit validation rules for the limits' current values, as one rule. */
  rule: ValidationRule;
  /**
   * Apollo's document store, keyed by the limits' current values as well as the query: a query
   * validated under looser limits is validated again after a reload tightens them.
   */
  documentStore: KeyValueCache<DocumentNode>;
}

export function liveLimitRules(limits: QueryLimits): LiveLimits {
  let key = '';
  let rules: ValidationRule[] = [];
  const current = (): { key: string; rules: ValidationRule[] } => {
    const now = `${limits.maxDepth}/${limits.maxAliases}/${limits.maxCost}/${limits.maxTokens}/${limits.maxDirectives}`;
    if (now !== key) {
      key = now;
      rules = limitRules(limits);
    }
    return { key, rules };
  };
  const documents = new InMemoryLRUCache<DocumentNode>({ max: MAX_DOCUMENTS });
  return {
    rule: (context) => visitInParallel(current().rules.map((r) => r(context))),
    documentStore: {
      get: (k) => documents.get(`${current().key}:${k}`),
      set: (k, value) => documents.set(`${current().key}:${k}`, value),
      delete: (k) => documents.delete(`${current().key}:${k}`),
    },
  };
}
