/**
 * Provider mode and the playground's command line: the implicit-TLS and
 * submission listeners against the helper (`tls: true`, `requireTls: true`),
 * what each refuses before TLS and before AUTH, the banner's commands, and
 * `--data` and `mail 3` as a reader types them through the tasks.
 *
 * @module
 */

import assert from "node:assert/strict";
import { SMTP, SMTPSenderRefused } from "../lib/smtp.ts";
import type { Playground } from "../playground/server.ts";
import { FileMailroom } from "../playground/mailroom.ts";
import { banner, mailCommand, providerCommands, serverArgument } from "../playground/main.ts";
import { main as mailMain } from "../playground/mail.ts";
import { formatEntry } from "../playground/mbox.ts";
import { protocols, withProvider } from "./playground_run.ts";

const FROM = "sender@example.com";
const TO = "brandon@example.com";
const MESSAGE = "Subject: provider\n\nhello\n";
const decoder = new TextDecoder();
const encoder = new TextEncoder();
const PROJECT = new URL("..", import.meta.url);

Deno.test("submission: STARTTLS first, AUTH only after it, MAIL only after AUTH", async () => {
  await withProvider(async ({ hostname, submissionPort, dataDir }, caCerts) => {
    const smtp = await SMTP.connect(serverArgument(hostname, submissionPort!), { caCerts });
    await smtp.ehlo();
    assert.ok(smtp.hasExtn("starttls"));
    assert.ok(!smtp.hasExtn("auth"), "no AUTH before STARTTLS");
    assert.deepEqual(await smtp.docmd("AUTH", "PLAIN AGJyYW5kb24AYWJjMTIz"), [
      503,
      "5.5.1 Error: authentication not enabled",
    ]);
    assert.deepEqual(await smtp.mail(FROM), [530, "5.7.0 Must issue a STARTTLS command first"]);

    await smtp.starttls();
    await smtp.ehlo();
    assert.equal(
      smtp.esmtpFeatures.get("auth")?.trim(),
      "PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER",
    );
    assert.ok(!smtp.hasExtn("starttls"));
    assert.deepEqual(await smtp.mail(FROM), [530, "5.7.0 Authentication required"]);
    await smtp.login("brandon", "abc123");
    await smtp.sendmail(FROM, [TO], MESSAGE);
    await smtp.quit();
    assert.deepEqual(await protocols(dataDir), ["ESMTPSA"]);
  });
});

Deno.test("submission with requireTls: the helper upgrades, logs in and sends", async () => {
  await withProvider(async ({ hostname, submissionPort, dataDir }, caCerts) => {
    const smtp = await SMTP.connect(serverArgument(hostname, submissionPort!), {
      caCerts,
      requireTls: true,
    });
    await smtp.login("brandon", "abc123");
    assert.ok(smtp.isTls);
    await smtp.sendmail(FROM, [TO], MESSAGE);
    await smtp.quit();
    assert.deepEqual(await protocols(dataDir), ["ESMTPSA"]);
  });
});

Deno.test("implicit TLS: TLS from the first byte, AUTH offered, MAIL refused without it", async () => {
  await withProvider(async ({ hostname, tlsPort, dataDir }, caCerts) => {
    const server = serverArgument(hostname, tlsPort!);
    const anonymous = await SMTP.connect(server, { tls: true, caCerts });
    await anonymous.ehlo();
    assert.ok(anonymous.isTls);
    assert.ok(!anonymous.hasExtn("starttls"));
    assert.equal(
      anonymous.esmtpFeatures.get("auth")?.trim(),
      "PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER",
    );
    await assert.rejects(
      anonymous.sendmail(FROM, [TO], MESSAGE),
      (error: unknown) =>
        error instanceof SMTPSenderRefused && error.code === 530 &&
        error.smtpError === "5.7.0 Authentication required",
    );
    anonymous.close();

    const smtp = await SMTP.connect(server, { tls: true, caCerts });
    await smtp.login("brandon", "abc123");
    await smtp.sendmail(FROM, [TO], MESSAGE);
    await smtp.quit();
    assert.deepEqual(await protocols(dataDir), ["ESMTPSA"]);
  });
});

Deno.test("the book's listener is unchanged in provider mode: AUTH before STARTTLS, optional", async () => {
  await withProvider(async ({ hostname, port, dataDir }) => {
    const smtp = await SMTP.connect(serverArgument(hostname, port));
    await smtp.ehlo();
    assert.ok(smtp.hasExtn("auth") && smtp.hasExtn("starttls"));
    await smtp.sendmail(FROM, [TO], MESSAGE);
    await smtp.quit();
    assert.deepEqual(await protocols(dataDir), ["ESMTP"]);
  });
});

Deno.test("the banner prints provider mode's exact commands and the data folder for mail", () => {
  assert.deepEqual(
    providerCommands("127.0.0.1", { tlsPort: 2465, submissionPort: 2527 }, ".playground/ca.pem"),
    [
      "deno run -N --cert .playground/ca.pem login.ts --starttls 127.0.0.1:2527 " +
      "sender@example.com brandon@example.com",
      "deno run -N --cert .playground/ca.pem login.ts --tls 127.0.0.1:2465 " +
      "sender@example.com brandon@example.com",
    ],
  );
  const playground: Playground = {
    port: 2525,
    tlsPort: 2465,
    submissionPort: 2527,
    hostname: "127.0.0.1",
    dataDir: "/tmp/my mail",
    caPath: "/tmp/my mail/ca.pem",
    certificatesCreated: false,
    mailroom: new FileMailroom("/tmp/my mail", ["brandon"]),
    close: () => Promise.resolve(),
  };
  const lines = banner(playground, { brandon: "abc123" });
  assert.ok(
    lines.includes(
      "  implicit TLS on 127.0.0.1:2465, submission (STARTTLS, then AUTH) on 127.0.0.1:2527",
    ),
  );
  assert.equal(
    lines.at(-1),
    "Read the mail with: deno task mail --data '/tmp/my mail' brandon   (Ctrl-C stops the server)",
  );
  assert.equal(mailCommand(".playground", "brandon"), "deno task mail brandon");
  assert.equal(mailCommand("./.playground/", "brandon"), "deno task mail brandon");
  assert.equal(mailCommand("/tmp/x", "alice"), "deno task mail --data /tmp/x alice");
});

/** The deno.json task's command, split into deno's arguments (after `deno`). */
async function taskArgs(task: string): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", PROJECT)));
  const words = (config.tasks[task] as string).split(" ");
  assert.equal(words[0], "deno");
  return words.slice(1);
}

Deno.test("--data outside .playground through the task: one line with the command that works", async () => {
  const dir = await Deno.makeTempDir({ prefix: "playground-data-test-" });
  try {
    const args = [
      ...await taskArgs("playground"),
      "--data",
      dir,
      "--port",
      "0",
      "--quiet",
      "--no-web",
    ];
    const refused = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: PROJECT,
      stdin: "null",
      env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    }).output();
    const stderr = decoder.decode(refused.stderr);
    assert.equal(refused.code, 2);
    assert.equal(decoder.decode(refused.stdout), "");
    assert.equal(stderr.split("\n").length, 2, stderr); // one line
    const command = /run instead: deno (run .*)$/m.exec(stderr)?.[1];
    assert.ok(command, stderr);
    assert.equal(
      command,
      `run '--allow-net=127.0.0.1,[::1]' --allow-read=.,${dir} --allow-write=${dir} ` +
        `playground/main.ts --data ${dir} --port 0 --quiet --no-web`,
    );

    // The printed command does start the playground on that folder.
    const child = new Deno.Command(Deno.execPath(), {
      args: command.replaceAll("'", "").split(" "), // no spaces in the folder's name
      cwd: PROJECT,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
      env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let output = "";
    try {
      while (!output.includes("Read the mail with")) {
        const { value, done } = await reader.read();
        if (done) break;
        output += value;
      }
    } finally {
      child.kill("SIGTERM");
      await reader.cancel();
      await child.status;
    }
    assert.match(output, new RegExp(`Read the mail with: deno task mail --data ${dir} brandon`));
    assert.ok((await Deno.stat(`${dir}/ca.pem`)).isFile);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the mail task reads --data anywhere; `mail 3` says the user comes first", async () => {
  const dir = await Deno.makeTempDir({ prefix: "playground-mail-test-" });
  try {
    const entry = formatEntry(FROM, new Date(Date.UTC(2014, 9, 22, 20, 34, 5)), MESSAGE);
    await Deno.writeFile(`${dir}/brandon`, entry);
    const run = async (...args: string[]) => {
      const result = await new Deno.Command(Deno.execPath(), {
        args: [...await taskArgs("mail"), ...args],
        cwd: PROJECT,
        stdin: "null",
        env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
      }).output();
      return [result.code, decoder.decode(result.stdout), decoder.decode(result.stderr)];
    };
    assert.deepEqual(await run("--data", dir, "brandon"), [
      0,
      `"${dir}/brandon": 1 message 1 new\n` +
      `>N   1 sender@example.com Wed Oct 22 20:34   5/${String(entry.length).padEnd(5)} provider\n`,
      "",
    ]);
    assert.deepEqual(await run("--data", dir, "3"), [
      2,
      "",
      `mail: "3" is a message number; the user comes first: deno task mail --data ${dir} brandon 3\n`,
    ]);
    const printed: string[] = [];
    assert.equal(await mailMain(["3"], () => {}, (line) => printed.push(line)), 2);
    assert.deepEqual(printed, [
      'mail: "3" is a message number; the user comes first: deno task mail brandon 3',
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("raw: the submission listener's EHLO before STARTTLS: no AUTH, as Postfix's submission", async () => {
  await withProvider(async ({ submissionPort }) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: submissionPort! });
    try {
      const buffer = new Uint8Array(4096);
      let text = "";
      const reply = async () => {
        while (!/(^|\r\n)\d{3} [^\r\n]*\r\n$/.test(text)) {
          const n = await conn.read(buffer);
          if (n === null) throw new Error(`closed: ${text}`);
          text += decoder.decode(buffer.subarray(0, n));
        }
        const got = text;
        text = "";
        return got;
      };
      await reply();
      await conn.write(encoder.encode("EHLO [127.0.0.1]\r\n"));
      assert.equal(
        await reply(),
        "250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n" +
          "250-ETRN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 DSN\r\n",
      );
    } finally {
      conn.close();
    }
  });
});
