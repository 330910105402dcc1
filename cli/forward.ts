/**
 * `forward`: run the model on a text or ids and write F32 tensors to safetensors, for inspection
 * and for checking against other implementations.
 * @module
 */

import {
  type CliCommand,
  COMMON_HELP,
  COMMON_OPTIONS,
  intList,
  loadModel,
  parse,
} from "./common.ts";
import { InvalidArgumentError } from "../src/errors.ts";
import { writeSafetensors } from "../src/io/safetensors.ts";
import { Gpt2Tokenizer } from "../src/tokenizer/tokenizer.ts";

const HELP = `usage: deno task cli forward (--text "<text>" | --ids 1,2,3) --out <file.safetensors>

Runs one forward pass and writes F32 tensors:
  hidden_states  [n_layer+1, T, D]   HF hidden_states (the last one after ln_f)
  logits         [T, V]
  attentions     [n_layer, n_head, T, T]
  ids            I32 [T]

Options:
  --text <text>   text to tokenize (GPT-2 BPE)
  --ids <list>    comma-separated token ids instead of a text
  --no-attentions leave attentions out
  --no-logits     leave logits out

${COMMON_HELP}`;

/** The forward command. */
export const command: CliCommand = {
  name: "forward",
  summary: "run the model; write hidden states, logits, attentions",
  help: HELP,
  async run(args) {
    const { values } = parse(args, {
      ...COMMON_OPTIONS,
      text: { type: "string" },
      ids: { type: "string" },
      "no-attentions": { type: "boolean", default: false },
      "no-logits": { type: "boolean", default: false },
    });
    if (!values.out) {
      throw new InvalidArgumentError("No output file was given", "Pass --out <file.safetensors>");
    }
    if ((values.text === undefined) === (values.ids === undefined)) {
      throw new InvalidArgumentError("Give exactly one of --text and --ids", "See --help");
    }
    let ids = intList(values.ids, "ids");
    if (values.text !== undefined) {
      if (values.text === "") {
        throw new InvalidArgumentError("The text is empty", 'Pass --text "some words" or --ids');
      }
      ids = new Gpt2Tokenizer().encode(values.text);
    }
    const model = await loadModel(values.model, values);
    const out = await model.run(ids!, {
      hiddenStates: true,
      logits: values["no-logits"] ? "none" : "all",
      attentions: !values["no-attentions"],
    });
    const { nLayer: L, nHead: H, nEmbd: D, vocabSize: V } = model.config;
    const T = ids!.length;
    const tensors: Parameters<typeof writeSafetensors>[1] = {
      hidden_states: { dtype: "F32", shape: [L + 1, T, D], data: out.hiddenStates! },
      ids: { dtype: "I32", shape: [T], data: Int32Array.from(ids!) },
    };
    if (out.logits) tensors.logits = { dtype: "F32", shape: [T, V], data: out.logits };
    if (out.attentions) {
      tensors.attentions = { dtype: "F32", shape: [L, H, T, T], data: out.attentions };
    }
    await writeSafetensors(values.out, tensors, {
      model: model.source,
      format: "laminar-forward-1",
    });
    console.log(`wrote ${Object.keys(tensors).join(", ")} (T=${T}) to ${values.out}`);
    return 0;
  },
};
