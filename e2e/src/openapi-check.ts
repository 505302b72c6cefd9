import Ajv from 'ajv';
import addFormats from 'ajv-formats';

type Json = Record<string, any>;

/**
 * Checks real responses against the OpenAPI document the gateway serves: the path, method and status must
 * be documented, and the body must match the documented schema.
 */
export class OpenApiChecker {
  private readonly ajv = new Ajv({ strict: false, allErrors: true });
  readonly checked: string[] = [];
  /** Responses whose body was validated against a documented schema (not only matched by status). */
  bodiesValidated = 0;

  constructor(private readonly doc: Json) {
    addFormats(this.ajv as never);
  }

  check(method: string, path: string, status: number, body: unknown): void {
    const template = this.findTemplate(path);
    if (!template) throw new Error(`${method} ${path} is not documented`);
    const operation = this.doc.paths[template][method.toLowerCase()];
    if (!operation) throw new Error(`${method} ${template} is not documented`);
    const response = operation.responses[String(status)] ?? operation.responses.default;
    if (!response) throw new Error(`${method} ${template} does not document status ${status}`);
    const content = response.content ?? {};
    const schema = (content['application/json'] ?? content['application/problem+json'])?.schema;
    this.checked.push(`${method} ${template} ${status}`);
    if (!schema || body === undefined || body === '') return;
    this.bodiesValidated++;
    // The document is already dereferenced (swagger-parser): each schema is one shared object, which ajv
    // compiles once and then takes from its cache.
    const validate = this.ajv.compile(schema);
    if (!validate(body))
      throw new Error(
        `${method} ${template} ${status}: body does not match the document: ${this.ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 500)}`,
      );
  }

  private findTemplate(path: string): string | undefined {
    const bare = path.split('?')[0]!;
    return Object.keys(this.doc.paths).find((template) =>
      new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(bare),
    );
  }
}
