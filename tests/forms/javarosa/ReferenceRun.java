// Reference runner for tests/forms/test_bundled_*.py: runs answer scenarios through JavaRosa,
// the engine of ODK Collect (shipped inside pyxform's ODK_Validate.jar), so the bundled forms'
// decision rules are checked against what ODK itself computes.
//
// Usage: java -cp ODK_Validate.jar:DIR ReferenceRun FORM.xml < scenarios
// Input: one "name=value" line per answer; a line "---" ends a scenario (a fresh form each time).
// Output per scenario: one line per leaf "name<TAB>relevant<TAB>value<TAB>constraint_ok<TAB>required_empty",
// value empty when not relevant (as a submission holds it), then "---".
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.javarosa.core.model.FormDef;
import org.javarosa.core.model.data.AnswerDataFactory;
import org.javarosa.core.model.data.IAnswerData;
import org.javarosa.core.model.data.UncastData;
import org.javarosa.core.model.instance.InstanceInitializationFactory;
import org.javarosa.core.model.instance.TreeElement;
import org.javarosa.xform.util.XFormUtils;

public class ReferenceRun {
    private static void leaves(TreeElement e, Map<String, TreeElement> out) {
        for (int i = 0; i < e.getNumChildren(); i++) {
            TreeElement c = e.getChildAt(i);
            if (c.getNumChildren() == 0) {
                out.put(c.getName(), c);
            } else {
                leaves(c, out);
            }
        }
    }

    private static void run(String path, List<String> steps) throws Exception {
        FormDef fd = XFormUtils.getFormFromInputStream(new FileInputStream(path));
        fd.initialize(true, new InstanceInitializationFactory());
        Map<String, TreeElement> byName = new LinkedHashMap<>();
        leaves(fd.getMainInstance().getRoot(), byName);
        for (String step : steps) {
            int k = step.indexOf('=');
            String name = step.substring(0, k);
            String text = step.substring(k + 1);
            TreeElement el = byName.get(name);
            if (el == null) {
                throw new IllegalArgumentException("no field " + name);
            }
            IAnswerData data = text.isEmpty() ? null
                : AnswerDataFactory.templateByDataType(el.getDataType()).cast(new UncastData(text));
            fd.setValue(data, el.getRef(), true);
        }
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, TreeElement> en : byName.entrySet()) {
            TreeElement el = en.getValue();
            IAnswerData v = el.getValue();
            boolean relevant = el.isRelevant();
            String value = (v == null || !relevant) ? "" : v.uncast().getString();
            boolean ok = v == null || !relevant || fd.evaluateConstraint(el.getRef(), v);
            boolean requiredEmpty = relevant && el.isRequired() && v == null;
            sb.append(en.getKey()).append('\t').append(relevant ? 1 : 0).append('\t').append(value)
              .append('\t').append(ok ? 1 : 0).append('\t').append(requiredEmpty ? 1 : 0).append('\n');
        }
        sb.append("---\n");
        System.out.print(sb);
    }

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        List<String> steps = new ArrayList<>();
        String line;
        while ((line = in.readLine()) != null) {
            if (line.equals("---")) {
                run(args[0], steps);
                steps.clear();
            } else if (!line.isEmpty()) {
                steps.add(line);
            }
        }
        System.out.flush();
    }
}
