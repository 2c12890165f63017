// The benchmark's AssemblyScript SDK task: it logs one line and sets a
// result, as the smallest useful task does.
import * as cronbox from "cronbox";

cronbox.info("tick");
if (cronbox.setResult("{\"ticks\":1}") != 0) cronbox.exit(1);
